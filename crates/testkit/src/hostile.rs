//! The hostile templates of the security review, for tests and the benchmark.

/// The review's alias bomb: 8 levels, each a list of 10 aliases of the level below.
pub fn alias_bomb() -> String {
    let mut text = String::from(
        "AWSTemplateFormatVersion: \"2010-09-09\"\nMetadata:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for level in 1..=8 {
        let aliases = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("  l{level}: &l{level} [{aliases}]\n"));
    }
    text.push_str("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n");
    text
}

/// The review's deep nesting: 20,000 levels in block style, about 40 KB.
pub fn deep_nesting() -> String {
    format!(
        "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\nMetadata:\n  deep:\n    {}x\n",
        "- ".repeat(20_000)
    )
}
