//! "Did you mean …?" suggestions for misspelt keys and type names.

/// Edit distance (insertions, deletions, substitutions, adjacent transpositions), ASCII case-folded.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word` if it is close enough to be a plausible typo: one edit for short
/// words (≤ 4 characters), two otherwise.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = if word.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("handler", "handlr"), 1);
        assert_eq!(distance("listener", "listner"), 1);
        assert_eq!(distance("socks5", "sokcs5"), 1);
        assert_eq!(distance("certFile", "CERTFILE"), 0);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn closest_respects_length_limits() {
        assert_eq!(closest("adr", ["addr", "name"]), Some("addr"));
        assert_eq!(closest("xyz", ["addr", "name"]), None);
        assert_eq!(
            closest("udpBuferSize", ["udpBufferSize", "udp"]),
            Some("udpBufferSize")
        );
        assert_eq!(closest("foobar", ["handler"]), None);
    }
}
