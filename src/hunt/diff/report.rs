//! The report of a trace comparison that a person reads: which trace is which, the fields
//! that differ, and the context of the first difference side by side.

use std::io::{self, Write};

use serde_json::Value;

use super::{Line, LineDifference, TraceDiff};

/// Writes a report a person reads: which trace is which, the header's differences, the first
/// difference with the fields that differ, and the context from both traces.
pub fn write_report(
    out: &mut dyn Write,
    diff: &TraceDiff,
    name_a: &str,
    name_b: &str,
) -> io::Result<()> {
    if diff.identical() {
        return writeln!(
            out,
            "the traces are identical ({} lines): {name_a} and {name_b}",
            diff.lines
        );
    }
    writeln!(out, "a = {name_a}")?;
    writeln!(out, "b = {name_b}")?;
    if let Some(header) = &diff.header {
        writeln!(out, "the header (line 1) differs{}", fields_intro(header))?;
        write_fields(out, header)?;
    }
    let Some(first) = &diff.first else {
        return writeln!(
            out,
            "every line after the header is the same ({} lines)",
            diff.lines
        );
    };
    match (&first.a, &first.b) {
        (Some(_), Some(_)) => writeln!(
            out,
            "first difference: {} (line {}){}",
            first.diff.label,
            first.diff.number,
            fields_intro(&first.diff)
        )?,
        (None, _) => writeln!(
            out,
            "first difference: a ends after line {} while b goes on with {}",
            first.diff.number - 1,
            first.diff.label
        )?,
        (_, None) => writeln!(
            out,
            "first difference: b ends after line {} while a goes on with {}",
            first.diff.number - 1,
            first.diff.label
        )?,
    }
    write_fields(out, &first.diff)?;
    writeln!(
        out,
        "context (line numbers; lines marked a or b differ, unmarked ones are the same in both):"
    )?;
    for line in &first.before {
        writeln!(out, "     {:>6}  {}", line.number, line.text)?;
    }
    write_side_by_side(
        out,
        first.diff.number,
        first.a.iter().chain(&first.after_a),
        first.b.iter().chain(&first.after_b),
    )
}

fn fields_intro(diff: &LineDifference) -> String {
    if diff.bytes_only {
        ": the same JSON value written with different bytes (key order or spacing)".to_string()
    } else if diff.fields.is_empty() {
        String::new()
    } else {
        let count = diff.fields.len() + diff.more_fields;
        format!(" in {count} field{}:", if count == 1 { "" } else { "s" })
    }
}

fn write_fields(out: &mut dyn Write, diff: &LineDifference) -> io::Result<()> {
    for field in &diff.fields {
        writeln!(
            out,
            "  {}: a {}, b {}",
            field.path,
            show(field.a.as_ref()),
            show(field.b.as_ref())
        )?;
    }
    if diff.more_fields > 0 {
        writeln!(out, "  … and {} more", diff.more_fields)?;
    }
    Ok(())
}

/// Longest value shown in a field list; the context lines show values in full.
const SHOWN_VALUE_CHARS: usize = 100;

fn show(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(absent)".to_string();
    };
    let text = value.to_string();
    if text.chars().count() > SHOWN_VALUE_CHARS {
        let cut: String = text.chars().take(SHOWN_VALUE_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// From the first differing line on: a line both traces share is shown once, otherwise a's and
/// b's, each marked; a trace that ended is said to have ended.
fn write_side_by_side<'a>(
    out: &mut dyn Write,
    from: u64,
    a: impl Iterator<Item = &'a Line>,
    b: impl Iterator<Item = &'a Line>,
) -> io::Result<()> {
    let a: Vec<&Line> = a.collect();
    let b: Vec<&Line> = b.collect();
    let (mut ended_a, mut ended_b) = (false, false);
    for i in 0..a.len().max(b.len()) {
        let number = from + i as u64;
        match (a.get(i), b.get(i)) {
            (Some(x), Some(y)) if x.text == y.text => {
                writeln!(out, "     {number:>6}  {}", x.text)?;
            }
            (x, y) => {
                for (mark, line, ended) in [("a", x, &mut ended_a), ("b", y, &mut ended_b)] {
                    match line {
                        Some(line) => writeln!(out, "  {mark}  {number:>6}  {}", line.text)?,
                        None if !*ended => {
                            *ended = true;
                            writeln!(out, "  {mark}  {number:>6}  (the end of trace {mark})")?;
                        }
                        None => {}
                    }
                }
            }
        }
    }
    Ok(())
}
