//! Lists worded within a character budget: as many lines as fit, then how many more there are.

use cfn_deployer_aws::truncate;

/// `text` followed by `lines`, joined by `sep` (none before the first), within `max`
/// characters. When the lines run out of room, the first one that does not fit and all after
/// it give way to `sep` (none if no line was shown) and `more(how many)`; room for that tail is
/// kept as each line is added, so that the cut always has somewhere to go. The last line keeps
/// that room too when `room_after_last` is set; if not, it need only fit itself. The result is
/// cut to `max` if `text` or the tail alone is too long.
pub(crate) fn fit_lines(
    mut text: String,
    lines: &[String],
    max: usize,
    sep: &str,
    more: impl Fn(usize) -> String,
    room_after_last: bool,
) -> String {
    let width = |s: &str| s.chars().count();
    for (i, line) in lines.iter().enumerate() {
        let before = if i == 0 { "" } else { sep };
        let rest = lines.len() - i;
        let tail = more(rest);
        let with_line = width(&text) + width(before) + width(line);
        let last = i + 1 == lines.len();
        let no_room_for_tail = with_line + width(sep) + width(&tail) > max;
        if with_line > max || (no_room_for_tail && (room_after_last || !last)) {
            text.push_str(before);
            text.push_str(&tail);
            return truncate(text, max);
        }
        text.push_str(before);
        text.push_str(line);
    }
    truncate(text, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_within_a_budget() {
        let more = |n: usize| format!("+{n}");
        let lines = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        // (head, lines, max, room after the last line, expected)
        let table: &[(&str, &[&str], usize, bool, &str)] = &[
            ("h:", &["a", "b", "c"], 100, false, "h:a,b,c"),
            ("h:", &["a", "b", "c"], 100, true, "h:a,b,c"),
            ("h:", &[], 100, false, "h:"),
            // Room for "a", the separator and "+3" is kept before "a" is shown.
            ("h:", &["a", "b", "c"], 5, false, "h:+3"),
            ("h:", &["a", "b", "c"], 6, false, "h:a,+2"),
            // The last line needs only its own room, unless told otherwise.
            ("h:", &["a", "b"], 6, false, "h:a,b"),
            ("h:", &["a", "b"], 6, true, "h:a,+1"),
            // A long line gives way even when it is the last.
            ("h:", &["abcdefgh"], 6, false, "h:+1"),
            // A head over the budget is cut.
            ("header", &["a"], 4, false, "hea…"),
        ];
        for (head, given, max, room, want) in table {
            let got = fit_lines((*head).to_owned(), &lines(given), *max, ",", more, *room);
            assert_eq!(&got, want, "{head} {given:?} within {max}");
            assert!(got.chars().count() <= *max, "{got}");
        }
    }
}
