//! Assembly's indexer.
