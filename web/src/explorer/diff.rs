//! A line diff between two payloads (as shown), for "what changed since the previous message". Longest common
//! subsequence over lines, bounded: two payloads too long to compare cheaply show as all removed, all added.

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    /// In both.
    Same(String),
    /// Only in the older payload.
    Removed(String),
    /// Only in the newer payload.
    Added(String),
}

/// The most cells (old lines × new lines) the comparison table may have: 40,000 cells of `u32` is 160 KiB, done
/// in well under a frame. Beyond it the diff is every old line removed and every new line added.
pub const MAX_DIFF_CELLS: usize = 40_000;

/// The lines of `old` and `new` in order, each marked same, removed or added.
pub fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    // Lines shared at both ends need no table.
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (old_mid, new_mid) = (&old[prefix..old.len() - suffix], &new[prefix..new.len() - suffix]);
    let mut lines: Vec<DiffLine> = old[..prefix]
        .iter()
        .map(|line| DiffLine::Same((*line).to_owned()))
        .collect();
    if old_mid.len().saturating_mul(new_mid.len()) > MAX_DIFF_CELLS {
        lines.extend(old_mid.iter().map(|line| DiffLine::Removed((*line).to_owned())));
        lines.extend(new_mid.iter().map(|line| DiffLine::Added((*line).to_owned())));
    } else {
        lines.extend(lcs_diff(old_mid, new_mid));
    }
    lines.extend(
        old[old.len() - suffix..]
            .iter()
            .map(|line| DiffLine::Same((*line).to_owned())),
    );
    lines
}

/// The diff of `old` and `new` through a longest-common-subsequence table; removals before additions.
fn lcs_diff(old: &[&str], new: &[&str]) -> Vec<DiffLine> {
    let width = new.len() + 1;
    // common[i * width + j]: the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![0u32; (old.len() + 1) * width];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i * width + j] = if old[i] == new[j] {
                common[(i + 1) * width + j + 1] + 1
            } else {
                common[(i + 1) * width + j].max(common[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut lines = Vec::with_capacity(old.len() + new.len());
    while i < old.len() && j < new.len() {
        if old[i] == new[j] {
            lines.push(DiffLine::Same(old[i].to_owned()));
            (i, j) = (i + 1, j + 1);
        } else if common[(i + 1) * width + j] >= common[i * width + j + 1] {
            lines.push(DiffLine::Removed(old[i].to_owned()));
            i += 1;
        } else {
            lines.push(DiffLine::Added(new[j].to_owned()));
            j += 1;
        }
    }
    lines.extend(old[i..].iter().map(|line| DiffLine::Removed((*line).to_owned())));
    lines.extend(new[j..].iter().map(|line| DiffLine::Added((*line).to_owned())));
    lines
}
