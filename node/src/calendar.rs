//! The schedule as an iCalendar feed (RFC 5545), which every calendar application subscribes
//! to: one event per upcoming occurrence of a session and, for a debate, one for the moment
//! its vote closes. Built from the live state's `upcoming` list, the same source the web
//! client's schedule reads, so the two never disagree.

use std::fmt::Write as _;

use crate::live::Upcoming;
use assembly_indexer::events::Kind;

/// The calendar for `upcoming`, stamped `now` (unix seconds). `origin` is the node's own
/// (`https://assembly.example`): events link to its page, and their UIDs are scoped by it.
pub fn ics(upcoming: &[Upcoming], origin: &str, network: &str, now: u64) -> String {
    let host = origin.split("://").nth(1).unwrap_or(origin);
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Livepeer Assembly//Assembly node//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        push(&mut out, line);
    }
    push(
        &mut out,
        &format!("X-WR-CALNAME:{}", text(&format!("Assembly ({network})"))),
    );
    let stamp = utc(now);
    let mut votes = Vec::new();
    for u in upcoming {
        let (what, link) = topic(u);
        let summary = match &u.proposal_id {
            Some(_) => format!("Debate: {what}"),
            None => what.clone(),
        };
        push(&mut out, "BEGIN:VEVENT");
        push(
            &mut out,
            &format!("UID:session-{}-{}@{host}", u.session, u.occurrence),
        );
        push(&mut out, &format!("DTSTAMP:{stamp}"));
        push(&mut out, &format!("DTSTART:{}", utc(u.start)));
        // An always-open floor has no end a calendar can write (iCalendar's years stop at
        // 9999): it is given as starting, and its description says it stays open.
        let open_ended = u.end >= assembly_indexer::floor::FOREVER;
        if !open_ended {
            push(&mut out, &format!("DTEND:{}", utc(u.end)));
        }
        push(&mut out, &format!("SUMMARY:{}", text(&summary)));
        let mut about = format!("Session {} of the Assembly floor.", u.session);
        if open_ended {
            about.push_str(" The floor stays open until it is cancelled.");
        }
        if let Some(closes) = u.vote_closes_at {
            let _ = write!(about, " The vote closes {}.", readable(closes));
        }
        if let Some(link) = &link {
            let _ = write!(about, "\n{link}");
        }
        push(&mut out, &format!("DESCRIPTION:{}", text(&about)));
        push(&mut out, &format!("URL:{origin}/?session={}", u.session));
        push(&mut out, "END:VEVENT");
        if let (Some(closes), Some(id)) = (u.vote_closes_at, &u.proposal_id) {
            // One event per vote, however many occurrences its debate has.
            if !votes.contains(id) {
                votes.push(id.clone());
                push(&mut out, "BEGIN:VEVENT");
                push(&mut out, &format!("UID:vote-{id}@{host}"));
                push(&mut out, &format!("DTSTAMP:{stamp}"));
                push(&mut out, &format!("DTSTART:{}", utc(closes)));
                push(&mut out, &format!("DTEND:{}", utc(closes)));
                push(
                    &mut out,
                    &format!("SUMMARY:{}", text(&format!("Vote closes: {what}"))),
                );
                if let Some(link) = &link {
                    push(&mut out, &format!("URL:{link}"));
                }
                push(&mut out, "END:VEVENT");
            }
        }
    }
    push(&mut out, "END:VCALENDAR");
    out
}

/// What an occurrence is about ("LIP-100: title", "Treasury: title"), and its vote's page on
/// Livepeer Explorer.
fn topic(u: &Upcoming) -> (String, Option<String>) {
    let named = u.title.as_ref().and_then(|t| t.title.clone());
    let Some(id) = &u.proposal_id else {
        return ("Assembly: open floor".into(), None);
    };
    let number = id.parse::<alloy::primitives::U256>().unwrap_or_default();
    match u.kind {
        Kind::LipDebate => {
            let poll = alloy::primitives::Address::from_word(number.into());
            let lip = u
                .title
                .as_ref()
                .and_then(|t| t.lip)
                .map_or("LIP poll".to_string(), |n| format!("LIP-{n}"));
            let what = named.map_or(lip.clone(), |t| format!("{lip}: {t}"));
            (
                what,
                Some(format!("https://explorer.livepeer.org/voting/{poll:#x}")),
            )
        }
        _ => {
            let label = if u.kind == Kind::TreasuryDebate {
                "Treasury"
            } else {
                "Governor proposal"
            };
            let what = named.map_or(label.to_string(), |t| format!("{label}: {t}"));
            (
                what,
                Some(format!("https://explorer.livepeer.org/treasury/{id}")),
            )
        }
    }
}

/// A UTC date-time in iCalendar's basic form.
fn utc(unix: u64) -> String {
    chrono::DateTime::from_timestamp(unix.min(i64::MAX as u64) as i64, 0)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

fn readable(unix: u64) -> String {
    chrono::DateTime::from_timestamp(unix.min(i64::MAX as u64) as i64, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}

/// A TEXT value, escaped (RFC 5545 §3.3.11): titles come from proposal authors.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets without splitting a character (§3.1).
fn push(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use assembly_indexer::store::Title;

    fn debate() -> Upcoming {
        Upcoming {
            session: 4,
            occurrence: 0,
            kind: Kind::LipDebate,
            proposal_id: Some("1234".into()),
            title: Some(Title {
                lip: Some(100),
                title: Some("A floor; for debates, with \\ and\nnewlines — é".repeat(3)),
                cid: None,
            }),
            start: 1_796_000_000,
            end: 1_796_003_600,
            vote_closes_at: Some(1_796_100_000),
        }
    }

    #[test]
    fn a_debate_and_its_vote_as_events() {
        let cal = ics(
            &[debate(), debate()],
            "https://assembly.example",
            "arbitrum-one",
            1_795_000_000,
        );
        assert!(cal.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(cal.ends_with("END:VCALENDAR\r\n"));
        // Two occurrences (the same here) and one vote-close event for their one vote.
        assert_eq!(cal.matches("BEGIN:VEVENT").count(), 3);
        assert_eq!(cal.matches("UID:vote-1234@assembly.example").count(), 1);
        assert!(cal.contains("DTSTART:20261130T005320Z\r\nDTEND:20261130T015320Z"));
        // The vote's own event is the moment it closes.
        assert!(cal.contains("DTSTART:20261201T044000Z\r\nDTEND:20261201T044000Z"));
        let unfolded = cal.replace("\r\n ", "");
        assert!(unfolded.contains(
            "SUMMARY:Debate: LIP-100: A floor\\; for debates\\, with \\\\ and\\nnewlines"
        ));
        assert!(unfolded.contains(
            "URL:https://explorer.livepeer.org/voting/0x00000000000000000000000000000000000004d2"
        ));
        assert!(unfolded.contains("URL:https://assembly.example/?session=4"));
        assert!(unfolded.contains("The vote closes 2026-12-01 04:40 UTC."));
    }

    #[test]
    fn lines_are_folded_at_75_octets_and_never_inside_a_character() {
        let cal = ics(&[debate()], "https://assembly.example", "n", 0);
        for line in cal.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
        }
        // Unfolding gives back valid text (no character was cut).
        assert!(cal.replace("\r\n ", "").contains("— é"));
    }

    #[test]
    fn an_open_floor_has_no_vote() {
        let open = Upcoming {
            kind: Kind::OpenFloor,
            proposal_id: None,
            title: None,
            vote_closes_at: None,
            ..debate()
        };
        let cal = ics(&[open], "http://localhost:8700", "local", 0);
        assert_eq!(cal.matches("BEGIN:VEVENT").count(), 1);
        assert!(cal.contains("SUMMARY:Assembly: open floor"));
        assert!(!cal.contains("explorer.livepeer.org"));
    }

    #[test]
    fn calendar_applications_read_it() {
        // The `ical` crate's parser reads it as a calendar application would: the events,
        // their times and their (unfolded, unescaped) summaries.
        let cal = ics(
            &[debate()],
            "https://assembly.example",
            "arbitrum-one",
            1_795_990_000,
        );
        let mut parser = ical::IcalParser::new(cal.as_bytes());
        let calendar = parser
            .next()
            .expect("one calendar")
            .expect("a valid calendar");
        assert!(parser.next().is_none());
        let prop = |e: &ical::parser::ical::component::IcalEvent, name: &str| {
            e.properties
                .iter()
                .find(|p| p.name == name)
                .and_then(|p| p.value.clone())
                .unwrap_or_default()
        };
        assert_eq!(calendar.events.len(), 2, "the debate and its vote's close");
        let debate_event = &calendar.events[0];
        assert_eq!(prop(debate_event, "DTSTART"), "20261130T005320Z");
        assert_eq!(prop(debate_event, "DTEND"), "20261130T015320Z");
        assert!(
            prop(debate_event, "SUMMARY").starts_with("Debate: LIP-100: A floor\\; for debates")
        );
        assert_eq!(prop(&calendar.events[1], "DTSTART"), "20261201T044000Z");
        assert!(prop(&calendar.events[1], "SUMMARY").starts_with("Vote closes: "));
    }

    #[test]
    fn an_always_open_floor_has_no_end_beyond_the_calendar() {
        let forever = Upcoming {
            kind: Kind::OpenFloor,
            proposal_id: None,
            title: None,
            vote_closes_at: None,
            end: 1_796_000_000 + assembly_indexer::floor::FOREVER,
            ..debate()
        };
        let cal = ics(&[forever], "http://localhost:8700", "local", 0);
        assert!(cal.contains("DTSTART:20261130T005320Z\r\n"), "{cal}");
        assert!(!cal.contains("DTEND"), "{cal}");
        assert!(cal
            .replace("\r\n ", "")
            .contains("stays open until it is cancelled"));
    }
}
