//! `plantdb secret-key`: a fresh PLANTDB_SECRET_KEY; printing one needs no database.

use crate::error::Result;
use crate::output::Output;
use crate::seed::secrets::SecretKey;

pub fn run(out: &Output) -> Result<i32> {
    out.secret_key(&SecretKey::generate().to_base64());
    Ok(0)
}
