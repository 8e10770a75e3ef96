//! Atom feeds (RFC 4287), which every feed reader follows: an orchestrator's speeches, a
//! proposal's debate, a saved search's hits. Each entry is one transcribed speech (or a
//! debate's opening), linked to its recording and its session's Hansard.

use std::fmt::Write as _;

use assembly_archive::hansard::store::Hit;

/// A feed, ready to write.
pub struct Feed {
    /// Its permanent id (a `tag:` URI).
    pub id: String,
    /// What it is, for people.
    pub title: String,
    /// Where it is fetched from (`rel="self"`).
    pub self_url: String,
    /// A page about the same thing (`rel="alternate"`), if any.
    pub alternate: Option<String>,
    /// Newest first.
    pub entries: Vec<Entry>,
    /// When the feed was written, if it has no entries; else its newest entry's time.
    pub now_ms: u64,
}

/// One entry.
pub struct Entry {
    /// Its permanent id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// When it last changed, milliseconds since the epoch.
    pub updated_ms: u64,
    /// Who it is by (an address), if anyone.
    pub author: Option<String>,
    /// A plain-text summary.
    pub summary: String,
    /// Its main link (`rel="alternate"`) and that link's media type.
    pub link: (String, &'static str),
    /// A related page (`rel="related"`), if any.
    pub related: Option<String>,
}

/// `tag:` URIs (RFC 4151) scoped by the node's host, so two nodes' ids never collide.
pub fn tag(origin: &str, specific: &str) -> String {
    let host = origin.split("://").nth(1).unwrap_or(origin);
    let host = host.split(['/', ':']).next().unwrap_or(host);
    format!("tag:{host},2026:{specific}")
}

/// A search hit (a transcribed speech) as an entry.
pub fn speech_entry(origin: &str, hit: &Hit) -> Entry {
    let s = &hit.speech;
    let summary: String = hit.text.chars().take(280).collect();
    let summary = if summary.len() < hit.text.len() {
        format!("{summary}…")
    } else if summary.is_empty() {
        "(no words recognised)".into()
    } else {
        summary
    };
    Entry {
        id: tag(origin, &format!("speech:{}", s.id)),
        title: format!(
            "{} spoke in session {} at {}",
            s.speaker,
            s.session,
            readable(s.started_ms)
        ),
        updated_ms: s.ended_ms.max(s.started_ms),
        author: Some(s.speaker.clone()),
        summary,
        link: (format!("{origin}{}", hit.audio), "audio/ogg"),
        related: Some(format!(
            "{origin}/api/v1/hansard/sessions/{}/markdown",
            s.session
        )),
    }
}

fn readable(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms.min(i64::MAX as u64) as i64)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

fn rfc3339(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms.min(i64::MAX as u64) as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Text escaped for XML, without the characters XML 1.0 cannot carry at all (transcripts
/// and titles come from outside).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The feed as an Atom document.
pub fn render(feed: &Feed) -> String {
    let updated = feed
        .entries
        .iter()
        .map(|e| e.updated_ms)
        .max()
        .unwrap_or(feed.now_ms);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let _ = writeln!(out, "  <id>{}</id>", esc(&feed.id));
    let _ = writeln!(out, "  <title>{}</title>", esc(&feed.title));
    let _ = writeln!(out, "  <updated>{}</updated>", rfc3339(updated));
    out.push_str("  <author><name>Livepeer Assembly</name></author>\n");
    out.push_str("  <generator>assembly-node</generator>\n");
    let _ = writeln!(
        out,
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>",
        esc(&feed.self_url)
    );
    if let Some(a) = &feed.alternate {
        let _ = writeln!(out, "  <link rel=\"alternate\" href=\"{}\"/>", esc(a));
    }
    for e in &feed.entries {
        out.push_str("  <entry>\n");
        let _ = writeln!(out, "    <id>{}</id>", esc(&e.id));
        let _ = writeln!(out, "    <title>{}</title>", esc(&e.title));
        let _ = writeln!(out, "    <updated>{}</updated>", rfc3339(e.updated_ms));
        if let Some(a) = &e.author {
            let _ = writeln!(out, "    <author><name>{}</name></author>", esc(a));
        }
        let _ = writeln!(
            out,
            "    <link rel=\"alternate\" type=\"{}\" href=\"{}\"/>",
            e.link.1,
            esc(&e.link.0)
        );
        if let Some(r) = &e.related {
            let _ = writeln!(out, "    <link rel=\"related\" href=\"{}\"/>", esc(r));
        }
        let _ = writeln!(
            out,
            "    <summary type=\"text\">{}</summary>",
            esc(&e.summary)
        );
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event as Xml;

    /// The elements of `doc` as paths (`feed/entry/title`) with their text, read by a real
    /// XML parser: a malformed document fails here.
    fn parse(doc: &str) -> Vec<(String, String)> {
        let mut reader = quick_xml::Reader::from_str(doc);
        let (mut path, mut out) = (Vec::<String>::new(), Vec::new());
        // Indices in `out` of the elements open now: text belongs to the innermost.
        let mut open: Vec<usize> = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Xml::Start(e) => {
                    path.push(String::from_utf8(e.local_name().as_ref().to_vec()).unwrap());
                    open.push(out.len());
                    out.push((path.join("/"), String::new()));
                }
                Xml::Empty(e) => {
                    let href = e
                        .try_get_attribute("rel")
                        .unwrap()
                        .map(|a| {
                            a.normalized_value(quick_xml::XmlVersion::default())
                                .unwrap()
                                .to_string()
                        })
                        .unwrap_or_default();
                    let name = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
                    out.push((format!("{}/{name}@{href}", path.join("/")), String::new()));
                }
                Xml::Text(t) => {
                    if let Some(&i) = open.last() {
                        out[i].1.push_str(&t.decode().unwrap());
                    }
                }
                Xml::GeneralRef(r) => {
                    let name = String::from_utf8(r.to_vec()).unwrap();
                    let c = match name.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        other => panic!("unknown entity {other}"),
                    };
                    out[*open.last().unwrap()].1.push_str(c);
                }
                Xml::End(_) => {
                    path.pop();
                    open.pop();
                }
                Xml::Eof => break,
                _ => {}
            }
        }
        assert!(path.is_empty(), "every element closed");
        out
    }

    fn feed(entries: Vec<Entry>) -> Feed {
        Feed {
            id: tag("https://assembly.example", "feeds:orchestrator:0xab"),
            title: "Speeches of 0xAb".into(),
            self_url: "https://assembly.example/api/v1/feeds/orchestrators/0xab.atom".into(),
            alternate: None,
            entries,
            now_ms: 1_796_000_000_000,
        }
    }

    fn entry(id: u32, text: &str) -> Entry {
        Entry {
            id: tag("https://assembly.example:8700", &format!("speech:{id}")),
            title: format!("<b>Speech</b> & \"{id}\""),
            updated_ms: 1_796_000_000_000 + u64::from(id) * 1000,
            author: Some("0xAb".into()),
            summary: text.into(),
            link: (
                format!("https://assembly.example/api/v1/archive/speeches/{id}/audio?a=1&b=2"),
                "audio/ogg",
            ),
            related: None,
        }
    }

    #[test]
    fn a_feed_parses_with_what_rfc_4287_requires() {
        let doc = render(&feed(vec![
            entry(2, "We <should> fund it & \u{1} more ]]>"),
            entry(1, ""),
        ]));
        let els = parse(&doc);
        let get = |p: &str| {
            els.iter()
                .filter(|(k, _)| k == p)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            get("feed/id"),
            ["tag:assembly.example,2026:feeds:orchestrator:0xab"]
        );
        assert_eq!(get("feed/title"), ["Speeches of 0xAb"]);
        // The feed's `updated` is its newest entry's.
        assert_eq!(get("feed/updated"), ["2026-11-30T00:53:22Z"]);
        assert_eq!(get("feed/link@self").len(), 1);
        assert_eq!(
            get("feed/entry/id"),
            [
                "tag:assembly.example,2026:speech:2",
                "tag:assembly.example,2026:speech:1"
            ]
        );
        assert_eq!(get("feed/entry/title")[0], "<b>Speech</b> & \"2\"");
        assert_eq!(
            get("feed/entry/summary")[0],
            "We <should> fund it &  more ]]>"
        );
        assert_eq!(get("feed/entry/updated").len(), 2);
        assert_eq!(get("feed/entry/link@alternate").len(), 2);
        assert!(doc.contains("audio?a=1&amp;b=2"));
    }

    #[test]
    fn feed_readers_read_it() {
        // feed-rs, the parser Rust feed readers use, reads what a subscriber's reader would.
        let doc = render(&feed(vec![
            entry(2, "We <should> fund it & more"),
            entry(1, ""),
        ]));
        let parsed = feed_rs::parser::parse(doc.as_bytes()).expect("an Atom feed");
        assert_eq!(parsed.feed_type, feed_rs::model::FeedType::Atom);
        assert_eq!(parsed.title.unwrap().content, "Speeches of 0xAb");
        assert_eq!(parsed.entries.len(), 2);
        let first = &parsed.entries[0];
        assert_eq!(first.id, tag("https://assembly.example:8700", "speech:2"));
        assert_eq!(
            first.title.as_ref().unwrap().content,
            "<b>Speech</b> & \"2\""
        );
        assert_eq!(
            first.summary.as_ref().unwrap().content,
            "We <should> fund it & more"
        );
        assert_eq!(
            first.links[0].href,
            "https://assembly.example/api/v1/archive/speeches/2/audio?a=1&b=2"
        );
        assert_eq!(first.authors[0].name, "0xAb");
        assert_eq!(first.updated.unwrap().timestamp_millis(), 1_796_000_002_000);
    }

    #[test]
    fn an_empty_feed_is_still_a_feed() {
        let els = parse(&render(&feed(Vec::new())));
        assert!(els
            .iter()
            .any(|(k, v)| k == "feed/updated" && v == "2026-11-30T00:53:20Z"));
        assert!(!els.iter().any(|(k, _)| k.starts_with("feed/entry")));
    }
}
