//! Prediction: with the runtime's latency simulator at 1 s per round trip,
//! a bound counter shows the new value within one animation frame of the
//! click (measured in the page), and the server's version confirms it later.

use crate::support;

use support::server::{node, App};

#[test]
fn with_one_second_of_latency_the_click_shows_within_a_frame() {
    let app = App::demo(&["--headless", "--port", "0"]);
    let r = node("latency.mjs", &[&app.url], &[]);
    assert_eq!(r["latency"], "1000", "{r}");
    assert_eq!(
        (r["before"].as_str(), r["shown"].as_str()),
        (Some("0"), Some("1")),
        "{r}"
    );
    let ms = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {r}"));
    let shown = ms("shownAt") - ms("clickAt");
    let frames = ms("shownFrame") - ms("clickFrame");
    // within one animation frame, counted in the page (a time in ms would
    // make this a timed test, which a busy machine fails)
    assert!(
        frames <= 1.0,
        "shown {shown:.2} ms, {frames} frame(s) after the click: {r}"
    );
    let confirmed = ms("confirmedAt") - ms("clickAt");
    assert!(
        confirmed >= 1000.0,
        "the server's answer took the simulated second: {confirmed:.0} ms"
    );
    assert_eq!(r["confirmed"], "1");
    let stats = app.stats();
    assert_eq!(
        stats["callbacks"]["increment_counter"]["agreed"], 1,
        "{stats}"
    );
    eprintln!("prediction shown {shown:.2} ms after the click; confirmed after {confirmed:.0} ms");
}
