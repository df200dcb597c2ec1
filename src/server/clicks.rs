//! Click ids (docs/protocol.md, "Click ids, retries and the queue"): every
//! click a page makes is named `PAGE:SEQ`, and the server remembers which
//! it answered and how, so a click sent again (its connection broke, the
//! server restarted, the page reloaded with it queued) is answered again,
//! never run twice.
//!
//! Per page: the highest `SEQ` answered (a page sends its clicks in order,
//! so every lower one was answered too) and the answers of the last
//! [`ANSWERS_KEPT`]; for the [`PAGES_KEPT`] pages that clicked most
//! recently. Kept in memory and, with `--state-file`, in the state file
//! with the state each click produced: there the highest `SEQ` of each
//! page alone ([`Applied::to_bytes`]), so that what a save writes stays
//! small (after a restart a click sent again is known to have been
//! answered; its answer is the current version). Kept are clicks that ran
//! and clicks refused for their arguments (so that one sent again is
//! refused again, not taken for one that ran).

use std::collections::{HashMap, VecDeque};

/// Answers kept per page: more than a page's queue sends in one request.
pub const ANSWERS_KEPT: usize = 64;
/// Pages remembered; past it, the one that clicked least recently is
/// forgotten (a click of it sent again later is [`Known::Unknown`]). With
/// [`ANSWERS_KEPT`] and [`REFUSAL_MAX`], what the table holds is bounded:
/// at most about 4,096 × 64 answers of a few hundred bytes.
pub const PAGES_KEPT: usize = 4_096;

/// The state file's key for "a page was forgotten" ([`Applied::to_bytes`]):
/// no page id (8 to 64 of `[0-9A-Za-z_-]`) can be it.
const FORGOT_KEY: &str = "!forgot";

/// The longest refusal kept as a click's answer, in bytes (its message
/// quotes the client's arguments: cut there).
pub const REFUSAL_MAX: usize = 200;

/// A click's id: the page that made it and its number there; and whether
/// the page sent it before (it may have run: the request's `resent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClickId {
    pub page: String,
    pub seq: u64,
    pub resent: bool,
}

impl ClickId {
    /// `PAGE:SEQ`: PAGE 8 to 64 of `[0-9A-Za-z_-]`, SEQ a decimal from 1.
    pub fn parse(text: &str) -> Result<ClickId, String> {
        let bad = || {
            format!(
                "`id` must be PAGE:SEQ (PAGE 8 to 64 of 0-9 A-Z a-z _ -, SEQ a number from 1), \
                 not {}",
                crate::callbacks::brief(&serde_json::Value::String(text.to_string()))
            )
        };
        let (page, seq) = text.split_once(':').ok_or_else(bad)?;
        let page_ok = (8..=64).contains(&page.len())
            && page
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let seq: u64 = seq
            .parse()
            .ok()
            .filter(|&n| n > 0 && !seq.starts_with('+'))
            .ok_or_else(bad)?;
        match page_ok {
            true => Ok(ClickId {
                page: page.to_string(),
                seq,
                resent: false,
            }),
            false => Err(bad()),
        }
    }
}

impl std::fmt::Display for ClickId {
    /// `PAGE:SEQ`, as the page writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.page, self.seq)
    }
}

/// An answer as it was given: status and JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// What the server knows of a click.
#[derive(Debug, PartialEq, Eq)]
pub enum Known {
    /// Never answered: run it.
    New,
    /// Answered, and this was the answer.
    Answered(Answer),
    /// Answered, but the answer is no longer kept.
    Forgotten,
    /// Sent before by a page the table does not hold, since the table
    /// forgot pages: whether it ran cannot be told (it may have, and its
    /// page then been forgotten). A click sent for the first time is
    /// [`Known::New`] whatever the table forgot: it cannot have run.
    Unknown,
}

/// One page's clicks.
#[derive(Clone, Debug, Default)]
struct Page {
    /// The highest SEQ answered.
    through: u64,
    /// The last answers, oldest first: (SEQ, answer).
    answers: VecDeque<(u64, Answer)>,
    /// When it last clicked (a counter: higher is more recent).
    used: u64,
}

/// The table as it was before a click (see [`Applied::undo`]).
pub struct PageRecord {
    /// The click's page.
    page: Option<Page>,
    /// The page forgotten to make room for it.
    evicted: Option<(String, Page)>,
    /// [`Applied::forgot`] before.
    forgot: bool,
}

/// The clicks answered, by page.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pages: HashMap<String, Page>,
    /// Counts clicks recorded (for `Page::used`).
    clock: u64,
    /// Whether a page was forgotten (or, read from a state file, may have
    /// been: its table was full).
    forgot: bool,
}

impl Applied {
    /// What is known of `id`.
    pub fn known(&self, id: &ClickId) -> Known {
        let Some(page) = self.pages.get(&id.page) else {
            return match id.resent && self.forgot {
                true => Known::Unknown,
                false => Known::New,
            };
        };
        if id.seq > page.through {
            return Known::New;
        }
        match page.answers.iter().find(|(seq, _)| *seq == id.seq) {
            Some((_, answer)) => Known::Answered(answer.clone()),
            None => Known::Forgotten,
        }
    }

    /// Records `answer` to `id`.
    pub fn record(&mut self, id: &ClickId, answer: Answer) {
        self.record_evicting(id, answer);
    }

    /// Records `answer` to `id`; the page forgotten to make room, if one was.
    fn record_evicting(&mut self, id: &ClickId, answer: Answer) -> Option<(String, Page)> {
        self.clock += 1;
        let mut evicted = None;
        if !self.pages.contains_key(&id.page) && self.pages.len() >= PAGES_KEPT {
            let oldest = self
                .pages
                .iter()
                .min_by_key(|(_, p)| p.used)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                evicted = self.pages.remove(&oldest).map(|page| (oldest, page));
                self.forgot = true;
            }
        }
        let page = self.pages.entry(id.page.clone()).or_default();
        page.through = page.through.max(id.seq);
        page.used = self.clock;
        page.answers.push_back((id.seq, answer));
        if page.answers.len() > ANSWERS_KEPT {
            page.answers.pop_front();
        }
        evicted
    }

    /// Records `answer` to `id` and returns what [`undo`](Applied::undo)
    /// needs to take it back.
    pub fn record_undoably(&mut self, id: &ClickId, answer: Answer) -> PageRecord {
        let page = self.pages.get(&id.page).cloned();
        let forgot = self.forgot;
        let evicted = self.record_evicting(id, answer);
        PageRecord {
            page,
            evicted,
            forgot,
        }
    }

    /// Takes back the answer [`record_undoably`](Applied::record_undoably)
    /// recorded (the state it went with was not saved): the table is as it
    /// was, the page forgotten for it back. (A new page's click sent again
    /// then runs, unless the table had forgotten pages before: then it is
    /// [`Known::Unknown`], though it did not run; keeping such pages
    /// instead would grow the table with every failed save.)
    pub fn undo(&mut self, id: &ClickId, before: PageRecord) {
        match before.page {
            Some(page) => self.pages.insert(id.page.clone(), page),
            None => self.pages.remove(&id.page),
        };
        if let Some((name, page)) = before.evicted {
            self.pages.insert(name, page);
        }
        self.forgot = before.forgot;
    }

    /// The table as the state file keeps it: each page's highest SEQ, as
    /// JSON (`{"PAGE": SEQ, …}`), and [`FORGOT_KEY`] once a page was
    /// forgotten.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut through: std::collections::BTreeMap<&str, u64> = self
            .pages
            .iter()
            .map(|(name, page)| (name.as_str(), page.through))
            .collect();
        if self.forgot {
            through.insert(FORGOT_KEY, 1);
        }
        serde_json::to_vec(&through).expect("plain data")
    }

    /// The table from [`to_bytes`](Applied::to_bytes)'s bytes (no answers).
    pub fn from_bytes(bytes: &[u8]) -> Result<Applied, String> {
        let mut through: HashMap<String, u64> = serde_json::from_slice(bytes)
            .map_err(|e| format!("its table of clicks is malformed: {e}"))?;
        // (a file from before the key: a full table may have forgotten)
        let forgot = through.remove(FORGOT_KEY).is_some() || through.len() >= PAGES_KEPT;
        let pages = through
            .into_iter()
            .map(|(name, through)| {
                let page = Page {
                    through,
                    ..Page::default()
                };
                (name, page)
            })
            .collect();
        Ok(Applied {
            pages,
            clock: 0,
            forgot,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_ids_are_parsed_strictly() {
        // (text, parsed)
        let cases: &[(&str, Option<(&str, u64)>)] = &[
            ("abcdefgh:1", Some(("abcdefgh", 1))),
            (
                "A1_-b2c3:18446744073709551615",
                Some(("A1_-b2c3", u64::MAX)),
            ),
            ("abcdefgh:0", None),
            ("abcdefgh:+1", None),
            ("abcdefgh:-1", None),
            ("abcdefgh:", None),
            ("abcdefg:1", None),
            ("abcdefgh1", None),
            ("abc defgh:1", None),
            ("abcdefgh:1:2", None),
            (&*format!("{}:1", "a".repeat(65)), None),
        ];
        for (text, want) in cases {
            let got = ClickId::parse(text).ok().map(|id| (id.page, id.seq));
            assert_eq!(got, want.map(|(p, s)| (p.to_string(), s)), "{text}");
        }
    }

    #[test]
    fn answered_clicks_are_known_and_old_answers_forgotten() {
        let mut applied = Applied::default();
        let id = |seq| ClickId {
            page: "pagepage".into(),
            seq,
            resent: false,
        };
        let answer = |n: u64| Answer {
            status: 200,
            body: format!("{{\"version\":{n}}}"),
        };
        assert_eq!(applied.known(&id(1)), Known::New);
        for seq in 1..=ANSWERS_KEPT as u64 + 1 {
            applied.record(&id(seq), answer(seq));
        }
        assert_eq!(applied.known(&id(1)), Known::Forgotten);
        assert_eq!(applied.known(&id(2)), Known::Answered(answer(2)));
        let last = ANSWERS_KEPT as u64 + 1;
        assert_eq!(applied.known(&id(last)), Known::Answered(answer(last)));
        assert_eq!(applied.known(&id(last + 1)), Known::New);
        // after a trip through the state file's bytes: known, not the answers
        let bytes = applied.to_bytes();
        assert_eq!(bytes, format!("{{\"pagepage\":{last}}}").into_bytes());
        let back = Applied::from_bytes(&bytes).unwrap();
        assert_eq!(back.known(&id(2)), Known::Forgotten);
        assert_eq!(back.known(&id(last)), Known::Forgotten);
        assert_eq!(back.known(&id(last + 1)), Known::New);
    }

    #[test]
    fn the_page_that_clicked_least_recently_is_forgotten_first() {
        let mut applied = Applied::default();
        let answer = Answer {
            status: 200,
            body: "{}".into(),
        };
        let id = |k: usize| ClickId {
            page: format!("page{k:08}"),
            seq: 1,
            resent: false,
        };
        for k in 0..PAGES_KEPT {
            applied.record(&id(k), answer.clone());
        }
        applied.record(&id(0), answer.clone()); // page 0 clicks again
        applied.record(&id(PAGES_KEPT), answer.clone());
        assert_eq!(applied.known(&id(1)), Known::New, "page 1 was forgotten");
        assert_ne!(applied.known(&id(0)), Known::New);
        assert_ne!(applied.known(&id(PAGES_KEPT)), Known::New);
    }

    /// Click `seq` of page `k` (`pageKKKKKKKK`).
    fn id(k: usize, seq: u64, resent: bool) -> ClickId {
        ClickId {
            page: format!("page{k:08}"),
            seq,
            resent,
        }
    }

    /// A table holding the first click of pages 0 to PAGES_KEPT - 1, and
    /// the answer each got.
    fn full_table() -> (Applied, Answer) {
        let answer = Answer {
            status: 200,
            body: "{}".into(),
        };
        let mut table = Applied::default();
        for k in 0..PAGES_KEPT {
            table.record(&id(k, 1, false), answer.clone());
        }
        (table, answer)
    }

    #[test]
    fn a_click_sent_again_by_a_forgotten_page_is_unknown_never_new() {
        // a full table, and one that forgot page 0 for page PAGES_KEPT
        let (full, answer) = full_table();
        let mut forgot = full.clone();
        forgot.record(&id(PAGES_KEPT, 1, false), answer.clone());
        let new_page = PAGES_KEPT + 1;
        // (table, click, what is known)
        let cases = [
            (&full, id(new_page, 1, true), Known::New), // nothing forgotten yet
            (&forgot, id(0, 1, true), Known::Unknown),  // page 0's click 1 ran
            (&forgot, id(0, 2, true), Known::Unknown),
            (&forgot, id(0, 2, false), Known::New), // first sent: it never ran
            (&forgot, id(new_page, 1, true), Known::Unknown), // can't be told from page 0
            (&forgot, id(new_page, 1, false), Known::New),
            (&forgot, id(1, 1, true), Known::Answered(answer.clone())),
            (&forgot, id(1, 2, true), Known::New), // a known page: its own record tells
        ];
        for (table, click, want) in cases {
            assert_eq!(
                table.known(&click),
                want,
                "{click}, resent {}",
                click.resent
            );
        }
        // read back from a state file: a full table may have forgotten pages
        for (table, want) in [(&full, Known::Unknown), (&forgot, Known::Unknown)] {
            let back = Applied::from_bytes(&table.to_bytes()).unwrap();
            assert_eq!(back.known(&id(new_page, 1, true)), want);
        }
        let small = Applied::from_bytes(br#"{"page00000000": 3}"#).unwrap();
        assert_eq!(small.known(&id(new_page, 1, true)), Known::New);
        // a table that forgot keeps saying so through a state file, also
        // once it is no longer full
        let mut shrunk = forgot.clone();
        shrunk.pages.remove("page00000001");
        let back = Applied::from_bytes(&shrunk.to_bytes()).unwrap();
        assert_eq!(back.known(&id(new_page, 1, true)), Known::Unknown);
    }

    #[test]
    fn a_click_whose_save_failed_is_undone_and_runs_when_sent_again() {
        let (mut table, answer) = full_table();
        let untouched = table.to_bytes();
        // (the click; what it is known as once undone)
        let cases = [
            (id(PAGES_KEPT, 1, false), Known::New), // a new page's first
            (id(PAGES_KEPT + 1, 7, false), Known::New), // a forgotten page's
            (id(5, 2, false), Known::New),          // a known page's next
        ];
        for (click, want) in cases {
            let before = table.record_undoably(&click, answer.clone());
            table.undo(&click, before);
            let again = ClickId {
                resent: true,
                ..click.clone()
            };
            assert_eq!(table.known(&again), want, "{click}");
            // the table as it was: page 0, the least recent, is back, and
            // nothing counts as forgotten
            assert_eq!(table.to_bytes(), untouched, "{click}");
            assert_eq!(
                table.known(&id(0, 1, true)),
                Known::Answered(answer.clone())
            );
        }
        // once the table forgets for good, an undone new page's click sent
        // again cannot be told from a forgotten one's: not run
        table.record(&id(PAGES_KEPT + 2, 1, false), answer.clone());
        let click = id(PAGES_KEPT + 3, 1, false);
        let before = table.record_undoably(&click, answer.clone());
        table.undo(&click, before);
        let again = ClickId {
            resent: true,
            ..click
        };
        assert_eq!(table.known(&again), Known::Unknown);
        assert_eq!(table.pages.len(), PAGES_KEPT);
    }
}
