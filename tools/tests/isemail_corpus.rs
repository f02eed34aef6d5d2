//! The email type against the isemail test corpus (../shared/data/isemail_tests.xml): every
//! address the corpus calls an error is refused, every plainly valid one accepted, and the
//! legal-but-unusable forms (quoted strings, comments, IP literals) are refused on purpose.

use heimdell_tools::domain::Email;

fn corpus() -> String {
    // The package folder at run time, not the one this binary was compiled in.
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let path = format!("{root}/../../shared/data/isemail_tests.xml");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {path}: {e} (shared/ must sit beside the repo)"))
}

fn decode(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find(';')
            .map(|e| i + e)
            .expect("entity ends with ;");
        let entity = &rest[i + 1..end];
        match entity {
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            hex if hex.starts_with("#x") => {
                let n = u32::from_str_radix(&hex[2..], 16).unwrap();
                // The corpus writes control character N as U+2400 + N.
                let n = if (0x2400..0x2420).contains(&n) {
                    n - 0x2400
                } else {
                    n
                };
                out.push(char::from_u32(n).unwrap());
            }
            other => panic!("unknown entity {other}"),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn tag<'a>(block: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    match (block.find(&open), block.find(&close)) {
        (Some(a), Some(b)) => &block[a + open.len()..b],
        _ => "",
    }
}

#[test]
fn corpus_categories_are_honoured() {
    let text = corpus();
    let mut counts = std::collections::BTreeMap::<String, (usize, usize)>::new();
    let mut wrong = Vec::new();
    for block in text.split("<test ").skip(1) {
        let address = decode(tag(block, "address"));
        let category = tag(block, "category").to_string();
        let accepted = Email::parse(&address).is_ok();
        let entry = counts.entry(category.clone()).or_default();
        if accepted {
            entry.0 += 1
        } else {
            entry.1 += 1
        }
        let expected = match category.as_str() {
            "ISEMAIL_ERR" => Some(false),
            // Syntactically fine, but a bare top-level domain (test@io) or a dotless one
            // cannot take a salesperson's mail, so those are refused too.
            "ISEMAIL_VALID_CATEGORY" | "ISEMAIL_DNSWARN" => Some(
                address
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| d.contains('.') && !d.starts_with('[')),
            ),
            // Quoted strings, comments, folding white space, IP literals: refused by design.
            "ISEMAIL_CFWS" | "ISEMAIL_DEPREC" | "ISEMAIL_RFC5322" | "ISEMAIL_RFC5321" => {
                Some(false)
            }
            _ => None,
        };
        if let Some(want) = expected {
            // Trimming surrounding spaces is part of parsing: an address with only leading or
            // trailing folding white space becomes a plain valid one.
            let trims_to_plain = address.trim() != address && Email::parse(address.trim()).is_ok();
            if accepted != want && !(accepted && trims_to_plain) {
                wrong.push(format!("{category}: {address:?} accepted={accepted}"));
            }
        }
    }
    let total: usize = counts.values().map(|(a, r)| a + r).sum();
    assert!(total >= 160, "corpus has {total} tests");
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
