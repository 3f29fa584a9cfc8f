//! EDN, the text form of transaction data and queries: a general reader and
//! printer (not tied to transactions), with the tagged literals Datomic users
//! write: `#inst`, `#uuid`, `#db/id`, bigint `N`, bigdec `M`.
//!
//! ```
//! use model::edn::{self, Edn};
//! let forms = edn::parse_all("[:db/add \"u\" :user/email \"a@x\"] ; a comment").unwrap();
//! assert_eq!(forms.len(), 1);
//! assert_eq!(forms[0].to_string(), "[:db/add \"u\" :user/email \"a@x\"]");
//! assert_eq!(edn::parse("#inst \"2012\"").unwrap().to_string(), "#inst \"2012-01-01T00:00:00.000-00:00\"");
//! ```

mod bigdec;
mod instant;
mod names;
mod printer;
mod reader;
mod value;

pub use bigdec::BigDec;
pub use instant::Instant;
pub use names::{Keyword, Symbol};
pub use num_bigint::BigInt;
pub use reader::{TxForms, TxItem, parse, parse_all};
pub use value::Edn;
