//! How the crate words serde_json's errors, for every JSON file it reads (scenarios,
//! exploration and cluster files, traces): the message without serde_json's own position, since
//! each reader puts the file's place in front as `FILE:LINE:COLUMN:`; serde's "unknown field"
//! and "unknown variant" messages with a "did you mean" when a name is close; its syntax and
//! type messages in the words of someone editing a JSON file. A reader that knows more about
//! its format (the scenario reader) asks for the pieces and words the rest itself.

/// serde_json's message without its " at line L column C" suffix.
pub fn bare_message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
}

/// serde_json's message as the scenario reader words it, for other JSON files read with serde
/// (exploration and cluster files): without its position, and with a "did you mean" for a
/// misspelt field or name.
pub fn serde_message(error: &serde_json::Error) -> String {
    let message = bare_message(error);
    unknown_name_message(&message).unwrap_or(message)
}

/// serde's "unknown field `x`, expected one of …" or "unknown variant …" as the scenario
/// reader words it, with a "did you mean" when a name is close (see [`serde_message`]).
fn unknown_name_message(raw: &str) -> Option<String> {
    if let Some(message) = unknown_field_message(raw) {
        return Some(message);
    }
    let (name, allowed) = unknown_variant(raw)?;
    Some(unknown_name(
        "name",
        &name,
        &allowed,
        "the allowed names are",
    ))
}

/// serde's "unknown field `x`, expected …" as "unknown field `x` (did you mean …?); the fields
/// allowed here are …".
pub(crate) fn unknown_field_message(raw: &str) -> Option<String> {
    let name = between_backticks(raw, "unknown field ")?;
    Some(unknown_name(
        "field",
        &name,
        &expected_names(raw),
        "the fields allowed here are",
    ))
}

/// The name in serde's "unknown variant `x`, expected …" and the names it allows.
pub(crate) fn unknown_variant(raw: &str) -> Option<(String, Vec<String>)> {
    let name = between_backticks(raw, "unknown variant ")?;
    Some((name, expected_names(raw)))
}

/// The names serde lists after ", expected" ("`a`, `b` or `c`"); none if it lists none.
pub(crate) fn expected_names(raw: &str) -> Vec<String> {
    backticked(raw.split_once(", expected").map_or("", |(_, rest)| rest))
}

/// The text between the first pair of backticks after `prefix`, if `raw` starts with it.
pub(crate) fn between_backticks(raw: &str, prefix: &str) -> Option<String> {
    let rest = raw.strip_prefix(prefix)?.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// Every backticked word of `list` (serde's "`a`, `b` or `c`").
fn backticked(list: &str) -> Vec<String> {
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The longest name or string from a file that a message repeats, in characters.
const SHOWN_CHARS: usize = 80;

/// A name or string from a file as a one-line message may repeat it: control characters and
/// the invisible ones that reorder or hide text escaped (`\n`, `\u{202e}`), and cut at
/// [`SHOWN_CHARS`] characters with an ellipsis, so that a file cannot make a message span
/// lines, hide its own text or run to a megabyte.
pub(crate) fn shown(text: &str) -> String {
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == SHOWN_CHARS {
            out.push('…');
            break;
        }
        if invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// "unknown {what} `name`", then the closest allowed name if it is close, then `intro` and
/// every allowed name.
pub(crate) fn unknown_name(what: &str, name: &str, allowed: &[String], intro: &str) -> String {
    let mut message = format!("unknown {what} `{}`", shown(name));
    // Close: a typo or two (fewer for short names), or a cut-off name ("lat" for "latency").
    let distance = |a: &String| {
        let d = strsim::levenshtein(a, name);
        let near = d <= (name.chars().count() / 3).max(1);
        let prefix = name.len() >= 3 && a.starts_with(name);
        (near || prefix).then_some(d)
    };
    // The closest, the first listed among equally close ones (`min` keeps the first).
    if let Some(close) = allowed
        .iter()
        .filter_map(|a| Some((distance(a)?, a)))
        .min()
        .map(|(_, a)| a)
    {
        message.push_str(&format!(" (did you mean `{close}`?)"));
    }
    if !allowed.is_empty() {
        let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
        message.push_str(&format!("; {intro} {}", list.join(", ")));
    }
    message
}

/// serde_json's syntax message `raw` in plain words, for someone editing the file by hand;
/// a message without better words is returned as it is.
pub(crate) fn syntax_words(raw: &str) -> &str {
    match raw {
        "EOF while parsing a value" => "the file ends where a value should follow",
        "EOF while parsing an object" => "the file ends before this object is closed with `}`",
        "EOF while parsing a list" => "the file ends before this list is closed with `]`",
        "EOF while parsing a string" => {
            "the file ends inside a string (is a closing `\"` missing?)"
        }
        "trailing comma" => "a comma after the last item is not allowed",
        "key must be a string" => {
            "expected a field name in double quotes (JSON has no comments and no unquoted names)"
        }
        "expected `,` or `}`" => "expected `,` or `}` (is a comma missing between two fields?)",
        "expected `,` or `]`" => "expected `,` or `]` (is a comma missing between two items?)",
        "expected `:`" => "expected `:` after the field name",
        "expected value" => {
            "expected a value: a number, a string in double quotes, true, false, null, an \
             object or a list"
        }
        "expected ident" => "expected true, false or null",
        other => other,
    }
}

/// serde's "invalid type: string \"x\", expected u64" as "expected a whole number ..., found
/// the string \"x\"" (and "invalid value", "invalid length" alike). `name_type` names an
/// expected type the caller knows better than [`expected_words`] does.
pub(crate) fn type_message(
    raw: &str,
    name_type: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let expected_words =
        |expected: &str| name_type(expected).unwrap_or_else(|| expected_words(expected));
    if let Some(rest) = raw.strip_prefix("invalid length ") {
        let (length, expected) = rest.split_once(", expected ")?;
        let expected = expected_words(expected);
        let items = if length == "1" { "item" } else { "items" };
        return Some(format!(
            "expected {expected}, found a list of {length} {items}"
        ));
    }
    let rest = raw
        .strip_prefix("invalid type: ")
        .or_else(|| raw.strip_prefix("invalid value: "))?;
    let (found, expected) = rest.rsplit_once(", expected ")?;
    let expected = expected_words(expected);
    let found = if let Some(string) = found.strip_prefix("string ") {
        format!("the string {string}")
    } else if let Some(number) = found
        .strip_prefix("integer ")
        .or_else(|| found.strip_prefix("floating point "))
    {
        number.trim_matches('`').to_string()
    } else if let Some(boolean) = found.strip_prefix("boolean ") {
        boolean.trim_matches('`').to_string()
    } else {
        match found {
            "map" => "an object".to_string(),
            "sequence" => "a list".to_string(),
            "unit value" | "null" => "null".to_string(),
            other => other.to_string(),
        }
    };
    Some(format!("expected {expected}, found {found}"))
}

/// serde's name of an expected type in the words of a JSON file.
fn expected_words(expected: &str) -> String {
    match expected {
        "u64" => format!("a whole number from 0 to {}", u64::MAX),
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "a string" => "a string in double quotes".to_string(),
        "a boolean" => "true or false".to_string(),
        "a sequence" => "a list [...]".to_string(),
        "a map" => "an object {...}".to_string(),
        "variant identifier" => "a name in double quotes".to_string(),
        e if e.starts_with("struct ") => "an object {...}".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_only_for_close_names() {
        let allowed: Vec<String> = ["latency", "fifo", "links", "us", "to"]
            .map(String::from)
            .into();
        let hint = |name: &str| unknown_name("field", name, &allowed, "allowed:");
        assert!(hint("lat").contains("did you mean `latency`?"));
        assert!(hint("fifi").contains("did you mean `fifo`?"));
        assert!(hint("Links").contains("did you mean `links`?"));
        assert!(!hint("x").contains("did you mean"));
        assert!(!hint("of").contains("did you mean"));
        assert!(hint("of").ends_with("allowed: `latency`, `fifo`, `links`, `us`, `to`"));
        assert!(hint("a\nb\u{202e}").starts_with("unknown field `a\\nb\\u{202e}`"));
        assert_eq!(shown(&"é".repeat(100)), format!("{}…", "é".repeat(80)));
    }

    #[test]
    fn the_position_is_cut_and_a_close_field_suggested() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Node {
            address: String,
        }
        let error = serde_json::from_str::<Node>("{\"adress\": \"x\"}").unwrap_err();
        assert_eq!(
            bare_message(&error),
            "unknown field `adress`, expected `address`"
        );
        assert_eq!(
            serde_message(&error),
            "unknown field `adress` (did you mean `address`?); the fields allowed here are \
             `address`"
        );
    }
}
