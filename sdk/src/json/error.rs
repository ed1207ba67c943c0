//! Why bytes are not valid JSON, and where.

/// What is wrong with the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The text ends inside a value.
    #[error("unexpected end of input")]
    Eof,
    /// The bytes are not UTF-8.
    #[error("invalid UTF-8")]
    Utf8,
    /// Something other than a value where one must be.
    #[error("expected a value")]
    ExpectedValue,
    /// A member name is not followed by `:`.
    #[error("expected `:`")]
    ExpectedColon,
    /// An object member is not followed by `,` or `}`.
    #[error("expected `,` or `}}`")]
    ExpectedCommaOrBrace,
    /// An array element is not followed by `,` or `]`.
    #[error("expected `,` or `]`")]
    ExpectedCommaOrBracket,
    /// Something other than a string where a member name must be.
    #[error("expected a member name")]
    ExpectedKey,
    /// A number that does not follow the grammar, or beyond what a double holds.
    #[error("invalid number")]
    Number,
    /// Not `true`, `false` or `null`.
    #[error("invalid literal")]
    Literal,
    /// A raw control character (below U+0020) inside a string.
    #[error("control character in a string")]
    Control,
    /// A backslash followed by something JSON does not define.
    #[error("invalid escape")]
    Escape,
    /// A `\u` escape naming half of a surrogate pair without the other half.
    #[error("lone surrogate in a \\u escape")]
    Surrogate,
    /// Containers nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    #[error("nesting deeper than {}", super::MAX_DEPTH)]
    TooDeep,
    /// Text after the end of the value.
    #[error("trailing characters")]
    Trailing,
}

/// Bytes that are not valid JSON: the first problem and its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{problem} at byte {offset}")]
pub struct JsonError {
    /// What is wrong.
    pub problem: Problem,
    /// Where, in bytes from the start of the text.
    pub offset: usize,
}

impl JsonError {
    pub(crate) fn at(problem: Problem, offset: usize) -> Self {
        Self { problem, offset }
    }
}
