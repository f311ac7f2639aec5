//! Renderers: turn trace events and run reports into something a person reads. One file per
//! output format.

pub mod text;
