//! Offer checks before anything is built: an offer must parse, carry an audio section that
//! is not rejected, offer Opus in it, and point its direction the way the endpoint needs.
//! Each failure is its own error, so a client learns exactly what was wrong.
//!
//! An offer with one media section and no `a=group:BUNDLE` (GStreamer's `webrtcbin` with its
//! default bundle policy) is trivially bundled: str0m needs the group, so [`check`] adds it,
//! and [`Offer::answer`] leaves it out of the answer again, because an answer may not group
//! what the offer did not (RFC 8843 §7.3.1).

use str0m::change::SdpOffer;

/// Largest offer accepted (a browser's audio-only offer is 2-4 KB, OBS's with video ~8 KB).
pub const MAX_OFFER: usize = 32 * 1024;

/// Most media sections an offer may have: WHIP and WHEP carry one audio and perhaps one
/// video section (refused here); a data channel at most makes three.
pub const MAX_SECTIONS: usize = 4;

/// Which way audio flows for the offerer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// WHIP: the offerer sends.
    Publish,
    /// WHEP: the offerer receives.
    Subscribe,
}

/// Why an offer was refused (each a 400, but for [`SdpError::TooLarge`]).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// No body.
    #[error("offer is empty")]
    Empty,
    /// Over [`MAX_OFFER`].
    #[error("offer is larger than {MAX_OFFER} bytes")]
    TooLarge,
    /// More than [`MAX_SECTIONS`] media sections.
    #[error("offer has more than {MAX_SECTIONS} media sections")]
    TooManySections,
    /// Not SDP the parser accepts.
    #[error("offer is not valid SDP: {0}")]
    Malformed(String),
    /// No `m=audio`.
    #[error("offer has no audio section (m=audio)")]
    NoAudio,
    /// Audio without Opus.
    #[error(
        "offer's audio does not include Opus as RFC 7587 names it (a=rtpmap:<pt> opus/48000/2)"
    )]
    NoOpus,
    /// No ICE credentials.
    #[error("offer has no ICE credentials (a=ice-ufrag and a=ice-pwd, RFC 8839)")]
    NoIce,
    /// No DTLS fingerprint.
    #[error("offer has no DTLS certificate fingerprint (a=fingerprint, RFC 8122)")]
    NoFingerprint,
    /// A media section without `a=mid`.
    #[error("offer's media section has no a=mid (RFC 8829 5.2.1)")]
    NoMid,
    /// Sending where the endpoint needs receiving, or the reverse.
    #[error("offer's audio direction is {0}; this endpoint needs {1}")]
    Direction(&'static str, &'static str),
}

#[derive(Default)]
struct AudioSection {
    rejected: bool,
    formats: Vec<String>,
    opus: Vec<String>,
    direction: Option<&'static str>,
}

/// A checked offer, parsed, and what the answer to it must leave out.
#[derive(Debug)]
pub struct Offer {
    /// The offer as str0m reads it (with the BUNDLE group it may have been given).
    pub sdp: SdpOffer,
    /// The offer had one media section and no BUNDLE group.
    pub(crate) unbundled: bool,
}

impl Offer {
    /// `answer` (str0m's, which always groups) as this offer allows it: without the BUNDLE
    /// group when the offer had none.
    pub fn answer(&self, answer: String) -> String {
        answer_for(self.unbundled, answer)
    }
}

/// [`Offer::answer`] once the offer itself has gone to str0m.
pub(crate) fn answer_for(unbundled: bool, answer: String) -> String {
    if !unbundled {
        return answer;
    }
    answer
        .split_inclusive('\n')
        .filter(|line| !line.starts_with("a=group:BUNDLE"))
        .collect()
}

/// Checks `text` for `intent` and returns it parsed.
pub fn check(text: &str, intent: Intent) -> Result<Offer, SdpError> {
    if text.trim().is_empty() {
        return Err(SdpError::Empty);
    }
    if text.len() > MAX_OFFER {
        return Err(SdpError::TooLarge);
    }
    let sections = text
        .lines()
        .filter(|l| l.trim_start().starts_with("m="))
        .count();
    if sections > MAX_SECTIONS {
        return Err(SdpError::TooManySections);
    }
    // The parser's own words name its internals (and once, a memory address): they are
    // logged, and the client is told what is wrong in ours.
    let parse = |text: &str| {
        SdpOffer::from_sdp_string(text).map_err(|e| {
            tracing::debug!(error = %e, "unparsable SDP offer");
            SdpError::Malformed("it does not parse as an SDP offer (RFC 8866)".into())
        })
    };
    let sdp = parse(text)?;
    let has = |attr: &str| text.lines().any(|l| l.trim_start().starts_with(attr));
    if !has("a=ice-ufrag:") || !has("a=ice-pwd:") {
        return Err(SdpError::NoIce);
    }
    if !has("a=fingerprint:") {
        return Err(SdpError::NoFingerprint);
    }
    let audio = audio_sections(text);
    if audio.iter().all(|s| s.rejected) {
        return Err(SdpError::NoAudio);
    }
    let with_opus: Vec<&AudioSection> = audio
        .iter()
        .filter(|s| !s.rejected && s.opus.iter().any(|pt| s.formats.contains(pt)))
        .collect();
    if with_opus.is_empty() {
        return Err(SdpError::NoOpus);
    }
    let (ok, needed): (&[&str], &str) = match intent {
        Intent::Publish => (&["sendonly", "sendrecv"], "sendonly"),
        Intent::Subscribe => (&["recvonly", "sendrecv"], "recvonly"),
    };
    let direction = |s: &AudioSection| s.direction.unwrap_or("sendrecv");
    if !with_opus.iter().any(|s| ok.contains(&direction(s))) {
        return Err(SdpError::Direction(direction(with_opus[0]), needed));
    }
    let unbundled = sections == 1 && !has("a=group:BUNDLE");
    if !unbundled {
        return Ok(Offer { sdp, unbundled });
    }
    let grouped = bundle(text).ok_or(SdpError::NoMid)?;
    Ok(Offer {
        sdp: parse(&grouped)?,
        unbundled,
    })
}

/// `text`, whose one media section has an `a=mid`, with a BUNDLE group of that section
/// added at the end of the session part. `None` without a mid, which WebRTC requires
/// (RFC 8829 §5.2.1) and the answer's header extension routing needs.
fn bundle(text: &str) -> Option<String> {
    let mid = text
        .lines()
        .skip_while(|l| !l.starts_with("m="))
        .find_map(|l| l.trim_end().strip_prefix("a=mid:"))
        .filter(|m| !m.is_empty() && !m.contains(char::is_whitespace))?;
    let at = text.find("\nm=")? + 1;
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    Some(format!(
        "{}a=group:BUNDLE {mid}{eol}{}",
        &text[..at],
        &text[at..]
    ))
}

fn audio_sections(text: &str) -> Vec<AudioSection> {
    let mut out: Vec<AudioSection> = Vec::new();
    let mut in_audio = false;
    for line in text.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            let mut parts = m.split_whitespace();
            in_audio = parts.next() == Some("audio");
            if in_audio {
                let port = parts.next().unwrap_or("0");
                let _proto = parts.next();
                out.push(AudioSection {
                    rejected: port == "0",
                    formats: parts.map(str::to_string).collect(),
                    ..AudioSection::default()
                });
            }
            continue;
        }
        let Some(section) = out.last_mut().filter(|_| in_audio) else {
            continue;
        };
        if let Some(map) = line.strip_prefix("a=rtpmap:") {
            let mut parts = map.splitn(2, ' ');
            let pt = parts.next().unwrap_or("");
            let codec = parts.next().unwrap_or("").to_ascii_lowercase();
            // RFC 7587 §7: always "opus/48000/2", whatever the channels sent; str0m rejects
            // the section otherwise, which would answer 201 with the audio refused.
            if codec.trim() == "opus/48000/2" {
                section.opus.push(pt.to_string());
            }
        }
        for d in ["sendrecv", "sendonly", "recvonly", "inactive"] {
            if line == format!("a={d}") {
                section.direction = Some(d);
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A browser-shaped audio offer.
    pub(crate) fn offer(direction: &str, codec: &str) -> String {
        format!(
            "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
a=setup:actpass\r\na=mid:0\r\na={direction}\r\na=rtcp-mux\r\n\
a=rtpmap:111 {codec}\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1001 cname:x\r\n"
        )
    }

    #[test]
    fn accepts_opus_in_the_right_direction() {
        assert!(check(&offer("sendonly", "opus/48000/2"), Intent::Publish).is_ok());
        assert!(check(&offer("sendrecv", "OPUS/48000/2"), Intent::Publish).is_ok());
        assert!(check(&offer("recvonly", "opus/48000/2"), Intent::Subscribe).is_ok());
    }

    #[test]
    fn refuses_floods_of_sections_and_says_why_in_its_own_words() {
        let one = offer("recvonly", "opus/48000/2");
        // Rejected sections are small: 340 of them fit well within MAX_OFFER.
        let many = (1..340).fold(one.clone(), |sdp, mid| {
            sdp + &format!("m=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=mid:{mid}\r\n")
        });
        assert!(many.len() < MAX_OFFER);
        assert_eq!(
            check(&many, Intent::Subscribe).unwrap_err(),
            SdpError::TooManySections
        );
        // The parser's own text (which once included a memory address) is not the client's.
        let e = check("v=0\r\nm=audio nine\r\n", Intent::Subscribe).unwrap_err();
        assert_eq!(
            e.to_string(),
            "offer is not valid SDP: it does not parse as an SDP offer (RFC 8866)"
        );
    }

    #[test]
    fn refuses_each_fault_by_name() {
        assert_eq!(check("  ", Intent::Publish).unwrap_err(), SdpError::Empty);
        assert!(matches!(
            check("hello", Intent::Publish),
            Err(SdpError::Malformed(_))
        ));
        assert_eq!(
            check(&offer("sendonly", "PCMU/8000"), Intent::Publish).unwrap_err(),
            SdpError::NoOpus
        );
        // Opus without its channel count is not the RFC 7587 format str0m answers.
        assert_eq!(
            check(&offer("sendonly", "OPUS/48000"), Intent::Publish).unwrap_err(),
            SdpError::NoOpus
        );
        assert_eq!(
            check(&offer("recvonly", "opus/48000/2"), Intent::Publish).unwrap_err(),
            SdpError::Direction("recvonly", "sendonly")
        );
        let video = offer("sendonly", "opus/48000/2")
            .replace("m=audio 9", "m=video 9")
            .replace("opus/48000/2", "VP8/90000");
        assert!(matches!(
            check(&video, Intent::Publish),
            Err(SdpError::NoAudio | SdpError::Malformed(_))
        ));
        let rejected = offer("sendonly", "opus/48000/2").replace("m=audio 9", "m=audio 0");
        assert_eq!(
            check(&rejected, Intent::Publish).unwrap_err(),
            SdpError::NoAudio
        );
        let big = offer("sendonly", "opus/48000/2") + &"a=x-pad:0\r\n".repeat(4000);
        assert_eq!(
            check(&big, Intent::Publish).unwrap_err(),
            SdpError::TooLarge
        );
    }

    #[test]
    fn one_section_without_a_bundle_group_is_grouped_for_str0m_and_answered_without() {
        let plain = offer("sendonly", "opus/48000/2").replace("a=group:BUNDLE 0\r\n", "");
        let checked = check(&plain, Intent::Publish).expect("a lone m-line is bundleable");
        assert!(checked.unbundled);
        let answer = "v=0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
        let sent = checked.answer(answer.to_string());
        assert!(!sent.contains("a=group"), "{sent}");
        assert!(
            sent.contains("m=audio 9") && sent.contains("a=mid:0\r\n"),
            "{sent}"
        );
        // A grouped offer's answer keeps its group.
        let grouped = check(&offer("sendonly", "opus/48000/2"), Intent::Publish).unwrap();
        assert!(grouped
            .answer(answer.to_string())
            .contains("a=group:BUNDLE 0"));
        // Without a mid there is nothing to name: refused (str0m's parser already needs one).
        let no_mid = plain.replace("a=mid:0\r\n", "");
        assert!(matches!(
            check(&no_mid, Intent::Publish),
            Err(SdpError::NoMid | SdpError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_offers_without_ice_credentials_or_fingerprint() {
        let o = offer("sendonly", "opus/48000/2");
        let no_pwd = o.replace("a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n", "");
        assert_eq!(
            check(&no_pwd, Intent::Publish).unwrap_err(),
            SdpError::NoIce
        );
        let no_fp: String = o
            .lines()
            .filter(|l| !l.starts_with("a=fingerprint"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(
            check(&no_fp, Intent::Publish).unwrap_err(),
            SdpError::NoFingerprint
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Hostile text never panics the checker or the SDP parser under it.
        #[test]
        fn arbitrary_text_is_refused_or_parsed(s in "\\PC{0,400}") {
            let _ = check(&s, Intent::Publish);
        }

        /// Mutating a good offer line by line never panics.
        #[test]
        fn mutated_offers_never_panic(cut in 0usize..600, junk in "[ -~]{0,40}") {
            let mut o = offer("sendonly", "opus/48000/2");
            let at = cut.min(o.len());
            let at = (0..=at).rev().find(|i| o.is_char_boundary(*i)).unwrap_or(0);
            o.insert_str(at, &junk);
            let _ = check(&o, Intent::Publish);
        }
    }
}
