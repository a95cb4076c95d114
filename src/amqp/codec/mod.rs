//! Bytes <-> frames, methods, field tables and properties. No state.
