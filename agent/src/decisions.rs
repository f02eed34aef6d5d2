//! The words that decide a pending approval in chat. The built-in planner reads a decision with
//! them, and the runtime checks the user's own message with them before `decide_action` may
//! run, so the two cannot disagree about what "accept the 2nd one" means.

/// What the user's message decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// Words that may come before the decision: "yes, please approve 2", "ok go ahead, accept it".
pub const LEAD_IN: &[&str] = &[
    "yes", "yeah", "yep", "sure", "ok", "okay", "please", "go", "ahead",
];

/// The decision a word makes, if it makes one.
pub fn decision_word(word: &str) -> Option<Decision> {
    match word {
        "approve" | "approved" | "accept" | "confirm" => Some(Decision::Approve),
        "reject" | "decline" | "deny" | "refuse" | "dismiss" => Some(Decision::Reject),
        _ => None,
    }
}

/// "second" or "2nd" → 2, up to ten.
pub fn ordinal(word: &str) -> Option<usize> {
    const WORDS: [&str; 10] = [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
        "tenth",
    ];
    if let Some(i) = WORDS.iter().position(|w| *w == word) {
        return Some(i + 1);
    }
    let digits = word
        .strip_suffix("st")
        .or_else(|| word.strip_suffix("nd"))
        .or_else(|| word.strip_suffix("rd"))
        .or_else(|| word.strip_suffix("th"))?;
    digits.parse().ok().filter(|n| (1..=10).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_ordinals() {
        assert_eq!(decision_word("accept"), Some(Decision::Approve));
        assert_eq!(decision_word("dismiss"), Some(Decision::Reject));
        assert_eq!(decision_word("send"), None);
        assert_eq!(ordinal("2nd"), Some(2));
        assert_eq!(ordinal("third"), Some(3));
        assert_eq!(ordinal("10th"), Some(10));
        assert_eq!(ordinal("11th"), None);
        assert_eq!(ordinal("north"), None);
    }
}
