//! torchtext's `basic_english`, the original's tokenizer (spec §4.2): lowercase, then in order
//! `'` → ` '  `, `"` removed, `.` → ` . `, `<br />` → ` `, `,` `(` `)` `!` `?` spaced out, `;` `:`
//! → ` `, then split on whitespace. The order matters (a `'` is spaced before `"` goes), so the
//! replacements run one after another as torchtext's regexes do.
const RULES: [(&str, &str); 11] = [
    ("'", " '  "),
    ("\"", ""),
    (".", " . "),
    ("<br />", " "),
    (",", " , "),
    ("(", " ( "),
    (")", " ) "),
    ("!", " ! "),
    ("?", " ? "),
    (";", " "),
    (":", " "),
];

pub fn basic_english(text: &str) -> Vec<String> {
    let mut s = text.to_lowercase();
    for (from, to) in RULES {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s.split_whitespace().map(str::to_string).collect()
}
