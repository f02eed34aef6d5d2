//! Words of a message: a tokenizer that keeps each word's place in the original text (so titles
//! and note bodies keep the user's own spelling and case), and small text helpers.

/// One word or punctuation mark of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// As written.
    pub raw: String,
    /// Lower-cased, for matching.
    pub low: String,
    /// Byte range in the message.
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// True for words and numbers, false for punctuation.
    pub fn is_word(&self) -> bool {
        self.raw.chars().any(char::is_alphanumeric)
    }

    /// True when the word starts with a capital letter as written.
    pub fn is_capitalised(&self) -> bool {
        self.raw.chars().next().is_some_and(char::is_uppercase)
    }

    /// The number this token spells as digits, if it is one.
    pub fn number(&self) -> Option<u32> {
        let digits = self.low.trim_start_matches('#');
        if digits.is_empty() || digits.len() > 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

/// Characters that always stand alone.
const ALONE: &[char] = &[
    ',', ';', '!', '?', '(', ')', '[', ']', '—', '–', '“', '”', '"',
];
/// Characters split off the end of a word.
const TRAILING: &[char] = &['.', ':', '\'', '’', '‘'];
/// Characters split off the start of a word.
const LEADING: &[char] = &['\'', '‘', '’'];

/// A message split into tokens. Words keep inner dots, colons, `@`, `+`, `-` and apostrophes,
/// so `jane@acme.com`, `3:30pm`, `+47 912`, `team's` stay whole.
#[derive(Debug, Clone)]
pub struct Sentence {
    pub text: String,
    pub toks: Vec<Token>,
}

impl Sentence {
    pub fn new(text: &str) -> Sentence {
        Sentence {
            text: text.to_string(),
            toks: tokenize(text),
        }
    }

    pub fn len(&self) -> usize {
        self.toks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.toks.is_empty()
    }

    pub fn low(&self, i: usize) -> &str {
        self.toks.get(i).map(|t| t.low.as_str()).unwrap_or("")
    }

    /// The original text of tokens `from..to`.
    pub fn raw(&self, from: usize, to: usize) -> &str {
        let to = to.min(self.toks.len());
        if from >= to {
            return "";
        }
        &self.text[self.toks[from].start..self.toks[to - 1].end]
    }

    /// The original text from token `from` to the end of the message.
    pub fn raw_from(&self, from: usize) -> &str {
        match self.toks.get(from) {
            Some(t) => &self.text[t.start..],
            None => "",
        }
    }

    /// Whether any token is one of these words.
    pub fn has_any(&self, words: &[&str]) -> bool {
        self.toks.iter().any(|t| words.contains(&t.low.as_str()))
    }

    /// Index of the first token at or after `from` equal to `word`.
    pub fn find(&self, from: usize, word: &str) -> Option<usize> {
        (from..self.toks.len()).find(|&i| self.toks[i].low == word)
    }
}

fn push(out: &mut Vec<Token>, text: &str, start: usize, end: usize) {
    if start < end {
        let raw = &text[start..end];
        out.push(Token {
            raw: raw.to_string(),
            low: raw.to_lowercase(),
            start,
            end,
        });
    }
}

/// Splits a message into tokens.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chunk_start: Option<usize> = None;
    let mut chunks = Vec::new();
    for (i, c) in text.char_indices() {
        if c.is_whitespace() || ALONE.contains(&c) {
            if let Some(s) = chunk_start.take() {
                chunks.push((s, i));
            }
            if !c.is_whitespace() {
                chunks.push((i, i + c.len_utf8()));
            }
        } else if chunk_start.is_none() {
            chunk_start = Some(i);
        }
    }
    if let Some(s) = chunk_start {
        chunks.push((s, text.len()));
    }
    for (mut s, mut e) in chunks {
        let mut lead = Vec::new();
        while let Some(c) = text[s..e].chars().next() {
            if e - s > c.len_utf8() && LEADING.contains(&c) {
                lead.push((s, s + c.len_utf8()));
                s += c.len_utf8();
            } else {
                break;
            }
        }
        let mut trail = Vec::new();
        while let Some(c) = text[s..e].chars().next_back() {
            if e - s > c.len_utf8() && TRAILING.contains(&c) {
                trail.push((e - c.len_utf8(), e));
                e -= c.len_utf8();
            } else {
                break;
            }
        }
        for (a, b) in lead {
            push(&mut out, text, a, b);
        }
        push(&mut out, text, s, e);
        for (a, b) in trail.into_iter().rev() {
            push(&mut out, text, a, b);
        }
    }
    out
}

/// Upper-cases the first letter.
pub fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Title-cases every word: "proposal sent" → "Proposal Sent".
pub fn title_case(s: &str) -> String {
    s.split_whitespace()
        .map(capitalise)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Trims spaces, surrounding quotes and trailing sentence punctuation.
pub fn tidy(s: &str) -> String {
    let t = s
        .trim()
        .trim_matches(|c: char| matches!(c, '"' | '“' | '”' | '\'' | '‘' | '’'))
        .trim()
        .trim_end_matches(['.', '!', ',', ';', ':'])
        .trim_start_matches([',', ';', ':', '-', '—', '–'])
        .trim();
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes the `<data>…</data>` fence the runtime puts around outside text in tool results.
pub fn unfence(s: &str) -> &str {
    s.strip_prefix("<data>")
        .and_then(|r| r.strip_suffix("</data>"))
        .unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.raw).collect()
    }

    #[test]
    fn words_keep_their_inner_punctuation() {
        assert_eq!(
            raws("Log a call with Jane: she wants pricing."),
            [
                "Log", "a", "call", "with", "Jane", ":", "she", "wants", "pricing", "."
            ]
        );
        assert_eq!(
            raws("add jane@acme.com, at 3:30pm (team's)"),
            [
                "add",
                "jane@acme.com",
                ",",
                "at",
                "3:30pm",
                "(",
                "team's",
                ")"
            ]
        );
        assert_eq!(raws("“Acme”—renewal"), ["“", "Acme", "”", "—", "renewal"]);
        let s = Sentence::new("call  Jane Cooper tomorrow");
        assert_eq!(s.raw(1, 3), "Jane Cooper");
        assert_eq!(s.raw_from(3), "tomorrow");
    }

    #[test]
    fn helpers() {
        assert_eq!(capitalise("call jane"), "Call jane");
        assert_eq!(title_case("closed won"), "Closed Won");
        assert_eq!(tidy("  \"she wants pricing.\" "), "she wants pricing");
        assert_eq!(unfence("<data>Jane</data>"), "Jane");
        assert_eq!(unfence("Jane"), "Jane");
    }
}
