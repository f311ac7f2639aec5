//! How the crate words serde_json's errors, for every JSON file it reads (scenarios,
//! exploration and cluster files, traces): the message without serde_json's own position, since
//! each reader puts the file's place in front as `FILE:LINE:COLUMN:`, and serde's "unknown
//! field" and "unknown variant" messages with a "did you mean" when a name is close.

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
    let allowed = || backticked(raw.split_once(", expected").map_or("", |(_, rest)| rest));
    if let Some(name) = between_backticks(raw, "unknown field ") {
        return Some(unknown_name(
            "field",
            &name,
            &allowed(),
            "the fields allowed here are",
        ));
    }
    let name = between_backticks(raw, "unknown variant ")?;
    Some(unknown_name(
        "name",
        &name,
        &allowed(),
        "the allowed names are",
    ))
}

/// The text between the first pair of backticks after `prefix`, if `raw` starts with it.
pub(crate) fn between_backticks(raw: &str, prefix: &str) -> Option<String> {
    let rest = raw.strip_prefix(prefix)?.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// Every backticked word of `list` (serde's "`a`, `b` or `c`").
pub(crate) fn backticked(list: &str) -> Vec<String> {
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// "unknown {what} `name`", then the closest allowed name if it is close, then `intro` and
/// every allowed name.
pub(crate) fn unknown_name(what: &str, name: &str, allowed: &[String], intro: &str) -> String {
    let mut message = format!("unknown {what} `{name}`");
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
