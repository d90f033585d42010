//! WCAG 2 contrast of the dashboard's text, read from its stylesheet (`static/roost.css`) in both themes: the
//! colour variables of `:root` (light) and of `@media (prefers-color-scheme: dark)`'s `:root` (dark), then every
//! rule that sets a text colour (`color`, or `fill` for SVG text). A rule that also sets a background is checked
//! against it; one that does not is checked against both surfaces text sits on, `--bg` and `--card`. Badges
//! whose white text is set once on the base class (`.presence`, `.badge`) are checked against the background of
//! every variant. Every pair must reach 4.5:1 (WCAG 1.4.3, AA for normal text).

use std::collections::HashMap;

/// The least contrast for normal text (WCAG 2.x, 1.4.3).
const MINIMUM: f64 = 4.5;

/// Classes whose text colour is set on the base rule and whose variants change only the background.
const WHITE_TEXT_BASES: &[&str] = &[".presence", ".badge"];

/// The stylesheet without comments.
fn stylesheet() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../static/roost.css");
    let text = std::fs::read_to_string(path).expect("static/roost.css");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        rest = rest[start..].find("*/").map_or("", |end| &rest[start + end + 2..]);
    }
    out.push_str(rest);
    out
}

/// A rule: its selector (or `@media …` for a block) and its body.
fn blocks(css: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = css;
    while let Some(open) = rest.find('{') {
        let head = rest[..open].trim().to_owned();
        let mut depth = 0;
        let mut end = open;
        for (i, c) in rest[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((head, rest[open + 1..end].to_owned()));
        rest = &rest[end + 1..];
    }
    out
}

/// The declarations of a rule body, by property, without `!important`.
fn declarations(body: &str) -> HashMap<String, String> {
    body.split(';')
        .filter_map(|declaration| {
            let (property, value) = declaration.split_once(':')?;
            let value = value.trim().trim_end_matches("!important").trim();
            Some((property.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

/// Every rule `(selector, declarations)`, those inside `@media` blocks included, with the block's condition.
fn rules(css: &str) -> Vec<(Option<String>, String, HashMap<String, String>)> {
    let mut out = Vec::new();
    for (head, body) in blocks(css) {
        if head.starts_with("@media") {
            for (selector, inner) in blocks(&body) {
                out.push((Some(head.clone()), selector, declarations(&inner)));
            }
        } else if !head.starts_with('@') {
            out.push((None, head, declarations(&body)));
        }
    }
    out
}

/// The colour variables of one theme: light, or light overridden by the dark `:root`.
fn theme(css: &str, dark: bool) -> HashMap<String, String> {
    let mut variables = HashMap::new();
    for (condition, selector, declarations) in rules(css) {
        let wanted = match &condition {
            None => true,
            Some(condition) => dark && condition.contains("prefers-color-scheme: dark"),
        };
        if selector == ":root" && wanted {
            for (property, value) in declarations {
                if property.starts_with("--") {
                    variables.insert(property, value);
                }
            }
        }
    }
    variables
}

/// `#rgb` or `#rrggbb` as red, green and blue in 0..=1.
fn hex(colour: &str) -> Option<[f64; 3]> {
    let digits = colour.strip_prefix('#')?;
    let digits: String = match digits.len() {
        3 => digits.chars().flat_map(|c| [c, c]).collect(),
        6 => digits.to_owned(),
        _ => return None,
    };
    let channel = |i: usize| {
        u8::from_str_radix(&digits[i..i + 2], 16)
            .ok()
            .map(|v| f64::from(v) / 255.0)
    };
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// A colour value (`#hex` or `var(--name)`) in `variables`, as a hex string; `None` for anything else
/// (`inherit`, `currentColor`, `none`).
fn resolve(value: &str, variables: &HashMap<String, String>) -> Option<String> {
    let value = value.trim();
    if let Some(name) = value.strip_prefix("var(").and_then(|v| v.strip_suffix(')')) {
        let named = variables
            .get(name.trim())
            .unwrap_or_else(|| panic!("{name} is not defined"));
        return resolve(named, variables);
    }
    hex(value).map(|_| value.to_owned())
}

/// WCAG 2 relative luminance.
fn luminance(colour: &str) -> f64 {
    let [r, g, b] = hex(colour).unwrap_or_else(|| panic!("{colour} is not a hex colour"));
    let linear = |c: f64| {
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// WCAG 2 contrast ratio of two colours.
fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// One text/background pair the stylesheet makes: where, in which theme, and its ratio.
#[derive(Debug)]
struct Pair {
    theme: &'static str,
    selector: String,
    text: String,
    background: String,
    ratio: f64,
}

/// Every text/background pair of the stylesheet, in both themes.
fn pairs(css: &str) -> Vec<Pair> {
    let mut out = Vec::new();
    for (name, dark) in [("light", false), ("dark", true)] {
        let variables = theme(css, dark);
        let surfaces = ["var(--bg)", "var(--card)"];
        for (_, selector, declarations) in rules(css) {
            let background = declarations
                .get("background")
                .or_else(|| declarations.get("background-color"))
                .and_then(|value| resolve(value, &variables));
            let text = declarations
                .get("color")
                .or_else(|| declarations.get("fill"))
                .and_then(|value| resolve(value, &variables));
            let inherited_white = WHITE_TEXT_BASES
                .iter()
                .any(|base| selector.starts_with(base) && !selector.contains(' '));
            let text = text.or_else(|| inherited_white.then(|| "#fff".to_owned()));
            let Some(text) = text else { continue };
            let backgrounds: Vec<String> = match background {
                Some(background) => vec![background],
                None => surfaces
                    .iter()
                    .filter_map(|surface| resolve(surface, &variables))
                    .collect(),
            };
            for background in backgrounds {
                out.push(Pair {
                    theme: name,
                    selector: selector.clone(),
                    ratio: contrast(&text, &background),
                    text: text.clone(),
                    background,
                });
            }
        }
    }
    out
}

#[test]
fn every_text_colour_reaches_4_5_to_1_in_both_themes() {
    let css = stylesheet();
    let pairs = pairs(&css);
    assert!(
        pairs.len() > 50,
        "only {} pairs found: is the stylesheet parsed?",
        pairs.len()
    );
    let failing: Vec<String> = pairs
        .iter()
        .filter(|pair| pair.ratio < MINIMUM)
        .map(|pair| {
            format!(
                "{} theme: {} — {} on {} is {:.2}:1",
                pair.theme, pair.selector, pair.text, pair.background, pair.ratio
            )
        })
        .collect();
    assert!(failing.is_empty(), "text below {MINIMUM}:1:\n{}", failing.join("\n"));
}

#[test]
fn the_online_badge_is_among_the_pairs_checked() {
    // The badge that measured 3.5:1 (white on the light green): it must be found and pass in both themes.
    let css = stylesheet();
    let badge: Vec<Pair> = pairs(&css)
        .into_iter()
        .filter(|pair| pair.selector == r#".presence[data-presence="online"]"#)
        .collect();
    assert_eq!(badge.len(), 2, "{badge:?}");
    for pair in badge {
        assert_eq!(pair.text, "#fff");
        assert!(pair.ratio >= MINIMUM, "{pair:?}");
    }
}

#[test]
fn contrast_matches_wcag_reference_values() {
    assert!((contrast("#000", "#fff") - 21.0).abs() < 1e-9);
    assert!((contrast("#fff", "#fff") - 1.0).abs() < 1e-9);
    // WebAIM's checker: #777777 on white is 4.48:1, just below AA.
    assert!((contrast("#777777", "#ffffff") - 4.48).abs() < 0.01);
    // The old online badge: white on #1f9d55.
    assert!((contrast("#fff", "#1f9d55") - 3.49).abs() < 0.01);
}
