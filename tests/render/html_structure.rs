//! The HTML page's structure; [`in_browser`](super::in_browser) steps through it in a browser.

use super::*;

/// The JSON block of a page.
pub(super) fn page_data(page: &str) -> serde_json::Value {
    let start_tag = "<script type=\"application/json\" id=\"trace-data\">";
    let start = page.find(start_tag).expect("the data block") + start_tag.len();
    let end = start + page[start..].find("</script>").expect("its end");
    serde_json::from_str(&page[start..end]).expect("the data block is JSON")
}

#[test]
fn html_is_one_self_contained_file_with_the_events_embedded() {
    for file in VARIED {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        let page = rendered(RenderFormat::Html, &capture);
        for outside in [
            "<link",
            " src=",
            "@import",
            "url(http",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!page.contains(outside), "{file}: {outside} in the page");
        }
        let without_namespace = page.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !without_namespace.contains("http://") && !without_namespace.contains("https://"),
            "{file}: a network address in the page"
        );
        let data = page_data(&page);
        assert_eq!(
            data["events"].as_array().unwrap().len(),
            capture.events.len(),
            "{file}"
        );
        let views = data["views"].as_array().unwrap();
        assert_eq!(views.len(), capture.info.clients() as usize, "{file}");
        for fields in views {
            assert_eq!(fields.as_array().unwrap().len(), html::VIEW_FIELDS.len());
        }
    }
}

/// The page and the SVG's tooltips number a violation as the timeline does: the event that
/// revealed it (#14, c1's entry), while the violation itself is row #15.
#[test]
fn html_and_svg_name_the_event_that_revealed_a_violation() {
    let (_, capture, _) = run_captured(&scenario("reorder-2.json"), Window::all());
    let page = page_data(&rendered(RenderFormat::Html, &capture));
    let row = &page["events"][15];
    assert_eq!(row[0], 15);
    assert!(
        row[6]
            .as_str()
            .unwrap()
            .starts_with("VIOLATION of mutual_exclusion at event 14: client 1 entered"),
        "{row}"
    );
    let svg = rendered(RenderFormat::Svg, &capture);
    assert!(
        svg.contains(
            "<title>#15 t=14.162ms c1 clock 5: VIOLATION of mutual_exclusion at event 14:"
        ),
        "{svg}"
    );
}

#[test]
fn html_data_cannot_close_its_script_element() {
    let (_, capture, _) = run_captured(&scenario("default.json"), Window::all());
    let mut capture = capture;
    capture.info.description = Some("</script><script>alert(1)</script> <!-- a & b".into());
    let page = rendered(RenderFormat::Html, &capture);
    assert_eq!(
        page.matches("</script>").count(),
        2,
        "only the two real ones"
    );
    assert!(page.contains("&lt;/script&gt;&lt;script&gt;"));
    assert_eq!(
        page_data(&page)["description"],
        "</script><script>alert(1)</script> <!-- a & b"
    );
}
