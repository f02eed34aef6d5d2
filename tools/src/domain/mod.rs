//! Domain newtypes with private fields and `parse` constructors: a value of one of these types
//! has already been checked, so code past the edge never re-validates.

mod email;
mod phone;
mod text;

pub use email::Email;
pub use phone::{Country, Phone};
pub use text::{Currency, LawfulBasis, Name, ReasonCode, Role, Text, TimeZone, nul_path};
