//! The SVG space-time diagram: well-formed, one element per event, readable arrows.

use super::*;

fn classes<'a>(node: &roxmltree::Node<'a, 'a>) -> Vec<&'a str> {
    node.attribute("class")
        .map(|class| class.split_whitespace().collect())
        .unwrap_or_default()
}

/// The corners of a message's `<polyline>`.
pub(super) fn points(node: &roxmltree::Node) -> Vec<(f64, f64)> {
    node.attribute("points")
        .expect("a message line has points")
        .split_whitespace()
        .map(|pair| {
            let (x, y) = pair.split_once(',').expect("x,y");
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

pub(super) fn check_svg(svg: &str, capture: &Capture, context: &str) {
    let document = roxmltree::Document::parse(svg)
        .unwrap_or_else(|error| panic!("{context}: the SVG is not XML: {error}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{context}");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg"),
        "{context}"
    );
    let events = &capture.events;
    let event_nodes: Vec<_> = document
        .descendants()
        .filter(|node| node.tag_name().name() == "g" && classes(node).contains(&"ev"))
        .collect();
    assert_eq!(
        event_nodes.len(),
        events.len(),
        "{context}: one <g> per event"
    );
    for (node, event) in event_nodes.iter().zip(events) {
        assert_eq!(
            node.attribute("data-seq"),
            Some(event.seq.to_string().as_str()),
            "{context}"
        );
        let kind_class = format!("k-{}", event.kind.name());
        assert!(classes(node).contains(&kind_class.as_str()), "{context}");
    }
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().map(|event| event.kind.name()).collect();
    for kind in kinds {
        let class = format!("k-{kind}");
        let drawn = event_nodes
            .iter()
            .filter(|node| classes(node).contains(&class.as_str()))
            .count();
        assert_eq!(drawn, count_kind(events, kind), "{context}: {class}");
    }
    // Message lines: one per delivery, one (lost) per loss of a message sent in the window.
    let lines: Vec<_> = document
        .descendants()
        .filter(|node| node.tag_name().name() == "polyline" && node.has_attribute("data-msg"))
        .collect();
    let delivered_lines = lines
        .iter()
        .filter(|line| !classes(line).contains(&"lost") && !classes(line).contains(&"beyond"))
        .count();
    assert_eq!(
        delivered_lines,
        count_kind(events, "deliver"),
        "{context}: one arrow per delivery"
    );
    for event in events {
        if let EventKind::Deliver { msg_id, msg, .. } = &event.kind {
            let type_class = format!("m-{}", msg.type_name());
            assert!(
                lines.iter().any(|line| {
                    line.attribute("data-msg") == Some(msg_id.to_string().as_str())
                        && classes(line).contains(&type_class.as_str())
                }),
                "{context}: no {type_class} arrow for m{msg_id}"
            );
        }
    }
    let sent_in_window: std::collections::BTreeSet<u64> = events
        .iter()
        .filter_map(|event| match event.kind {
            EventKind::Send { msg_id, .. } => Some(msg_id),
            _ => None,
        })
        .collect();
    let losses = events
        .iter()
        .filter(|event| matches!(event.kind, EventKind::Drop { msg_id, .. } if sent_in_window.contains(&msg_id)))
        .count();
    let lost_lines = lines
        .iter()
        .filter(|line| classes(line).contains(&"lost"))
        .count();
    assert_eq!(lost_lines, losses, "{context}: one lost arrow per loss");
    // Backgrounds of rows and lanes (the legend's samples have no data attributes).
    let rects = |class: &str| {
        document
            .descendants()
            .filter(|node| node.tag_name().name() == "rect" && classes(node).contains(&class))
            .filter(|node| class == "vrow" || node.has_attribute("data-lane"))
            .count()
    };
    assert_eq!(rects("vrow"), count_kind(events, "violation"), "{context}");
    let open_at_start = capture
        .start
        .clients
        .iter()
        .filter(|client| matches!(client.phase, Phase::Inside { .. }))
        .count();
    assert_eq!(
        rects("cs"),
        count_kind(events, "enter") + open_at_start,
        "{context}: one shaded critical section per entry"
    );
}

#[test]
fn svg_parses_as_xml_with_one_element_per_event_and_one_arrow_per_delivery() {
    for file in VARIED {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        check_svg(&rendered(RenderFormat::Svg, &capture), &capture, file);
    }
}

/// docs/teaching.md tells students to read the Lamport clock left of each mark: no
/// arrowhead may cover one (reorder-2 row #8 had REPLY m2's head on c2's "3"), nor the first
/// letters of the words right of a mark. Each arrowhead is placed as its marker says (tip,
/// length, width from `refX`, `markerWidth` and the line's stroke width); each label is a
/// box of 6 pixels per character of the 10-pixel monospace font.
#[test]
fn svg_arrowheads_stay_clear_of_the_clock_labels() {
    let stroke_width = regex::Regex::new(r"\.msg\{stroke-width:([0-9.]+)").unwrap();
    for file in VARIED {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        let svg = rendered(RenderFormat::Svg, &capture);
        let document = roxmltree::Document::parse(&svg).unwrap();
        let number = |node: &roxmltree::Node, name: &str| -> f64 {
            node.attribute(name).unwrap().parse().unwrap()
        };
        let stroke: f64 = stroke_width
            .captures(&svg)
            .expect("the message lines' stroke width")[1]
            .parse()
            .unwrap();
        // Boxes (left, top, right, bottom) of every clock label, and of the first letters
        // of the words right of each mark.
        let labels: Vec<(f64, f64, f64, f64, String)> = document
            .descendants()
            .filter(|node| node.tag_name().name() == "text")
            .filter_map(|node| {
                let (x, y) = (number(&node, "x"), number(&node, "y"));
                let text = node.text().unwrap_or_default().to_string();
                if classes(&node).contains(&"clk") {
                    Some((x - 6.0 * text.len() as f64 - 1.0, y - 8.0, x, y + 1.0, text))
                } else if classes(&node).contains(&"lbl") {
                    Some((x, y - 8.0, x + 10.0, y + 1.0, text))
                } else {
                    None
                }
            })
            .collect();
        let mut heads = 0;
        for line in document.descendants().filter(|node| {
            classes(node).contains(&"msg")
                && !classes(node).contains(&"lost")
                && node.attribute("data-msg").is_some()
        }) {
            let head_id = line.attribute("marker-end").unwrap();
            let head_id = &head_id["url(#".len()..head_id.len() - 1];
            let marker = document
                .descendants()
                .find(|node| node.attribute("id") == Some(head_id))
                .unwrap();
            let scale = number(&marker, "markerWidth") / 10.0 * stroke;
            // The head sits on the last segment.
            let line_points = points(&line);
            let last = line_points.len() - 1;
            let ((x1, y1), (x2, y2)) = (line_points[last - 1], line_points[last]);
            let length = ((x2 - x1).powi(2) + (y2 - y1).powi(2)).sqrt();
            let (ux, uy) = ((x2 - x1) / length, (y2 - y1) / length);
            let back = number(&marker, "refX") - 10.0;
            let tip = (x2 - ux * back * scale, y2 - uy * back * scale);
            let base = (tip.0 - ux * 10.0 * scale, tip.1 - uy * 10.0 * scale);
            let half = 5.0 * scale;
            let corners = [
                tip,
                (base.0 - uy * half, base.1 + ux * half),
                (base.0 + uy * half, base.1 - ux * half),
            ];
            let left = corners.iter().map(|c| c.0).fold(f64::MAX, f64::min);
            let right = corners.iter().map(|c| c.0).fold(f64::MIN, f64::max);
            let top = corners.iter().map(|c| c.1).fold(f64::MAX, f64::min);
            let bottom = corners.iter().map(|c| c.1).fold(f64::MIN, f64::max);
            heads += 1;
            for (l, t, r, b, text) in &labels {
                assert!(
                    right <= *l || left >= *r || bottom <= *t || top >= *b,
                    "{file}: the head of message {} covers the label {text:?} at \
                     ({l}, {b})",
                    line.attribute("data-msg").unwrap()
                );
            }
        }
        assert!(heads > 0, "{file}");
    }
}

#[test]
fn svg_marks_the_overlapping_critical_sections_of_the_reordering_violation() {
    let (_, capture, _) = run_captured(&scenario("reorder-2.json"), Window::all());
    let svg = rendered(RenderFormat::Svg, &capture);
    assert_eq!(
        svg.matches("class=\"cs overlap\" data-lane").count(),
        2,
        "{svg}"
    );
    // The REQUEST m0 is sent before the REPLY m2 and delivered after it: the arrows cross.
    let document = roxmltree::Document::parse(&svg).unwrap();
    let arrow = |id: &str| {
        document
            .descendants()
            .find(|node| node.attribute("data-msg") == Some(id))
            .map(|node| {
                let corners = points(&node);
                (corners[0].1, corners[corners.len() - 1].1)
            })
            .unwrap()
    };
    let (request_sent, request_delivered) = arrow("0");
    let (reply_sent, reply_delivered) = arrow("2");
    assert!(request_sent < reply_sent && request_delivered > reply_delivered);
}

/// A message's line runs under the labels of the event that sends it and above those of the
/// event that receives it, never through them (the clock left of the mark, the words right
/// of it; a label is a box of 6 pixels per character for the clock's 10-pixel monospace font
/// and 7 for the 11-pixel words).
#[test]
fn svg_arrows_do_not_cross_the_labels_of_their_own_events() {
    for file in VARIED {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        let svg = rendered(RenderFormat::Svg, &capture);
        let document = roxmltree::Document::parse(&svg).unwrap();
        let number = |node: &roxmltree::Node, name: &str| -> f64 {
            node.attribute(name).unwrap().parse().unwrap()
        };
        // The label boxes of each event, by seq.
        let boxes_of = |seq: u64| -> Vec<(f64, f64, f64, f64, String)> {
            let group = document
                .descendants()
                .find(|node| {
                    classes(node).contains(&"ev")
                        && node.attribute("data-seq") == Some(seq.to_string().as_str())
                })
                .expect("every event is drawn");
            group
                .children()
                .filter(|node| node.tag_name().name() == "text")
                .filter_map(|node| {
                    let (x, y) = (number(&node, "x"), number(&node, "y"));
                    let text = node.text().unwrap_or_default().to_string();
                    let chars = text.chars().count() as f64;
                    if classes(&node).contains(&"clk") {
                        Some((x - 6.0 * chars - 1.0, y - 8.0, x, y + 1.0, text))
                    } else if classes(&node).contains(&"lbl") {
                        Some((x, y - 8.0, x + 7.0 * chars, y + 1.0, text))
                    } else {
                        None
                    }
                })
                .collect()
        };
        let mut ends: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for event in &capture.events {
            match &event.kind {
                EventKind::Send { msg_id, .. } | EventKind::Deliver { msg_id, .. } => {
                    ends.entry(*msg_id).or_default().push(event.seq);
                }
                _ => {}
            }
        }
        let mut checked = 0;
        for line in document.descendants().filter(|node| {
            node.tag_name().name() == "polyline"
                && classes(node).contains(&"msg")
                && !classes(node).contains(&"beyond")
        }) {
            let msg: u64 = line.attribute("data-msg").unwrap().parse().unwrap();
            let boxes: Vec<_> = ends[&msg].iter().flat_map(|&seq| boxes_of(seq)).collect();
            for pair in points(&line).windows(2) {
                let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
                let steps = ((x2 - x1).abs().max((y2 - y1).abs()) * 2.0).ceil().max(1.0);
                for k in 0..=steps as usize {
                    let f = k as f64 / steps;
                    let (x, y) = (x1 + (x2 - x1) * f, y1 + (y2 - y1) * f);
                    for (l, t, r, b, text) in &boxes {
                        assert!(
                            x <= *l || x >= *r || y <= *t || y >= *b,
                            "{file}: the line of m{msg} crosses the label {text:?} at ({x}, {y})"
                        );
                    }
                }
            }
            checked += 1;
        }
        assert!(checked > 0, "{file}");
    }
}
