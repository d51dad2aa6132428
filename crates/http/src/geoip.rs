//! Country lookup in a MaxMind-format (`.mmdb`) database.
//!
//! Reads both layouts in common use: ip-location-db's country databases (`{"country_code": "SL"}`)
//! and MaxMind's GeoLite2/GeoIP2 Country (`{"country": {"iso_code": "SL"}}`).

use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;

/// An open country database.
pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    country: Option<IsoCountry<'a>>,
}

#[derive(Deserialize)]
struct IsoCountry<'a> {
    iso_code: Option<&'a str>,
}

/// Addresses no public database can place: loopback, private, link-local, unspecified, documentation.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback() || v6.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
        }
    }
}

impl GeoIp {
    pub fn open(path: &Path) -> Result<GeoIp, String> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| format!("cannot open GeoIP database {}: {e}", path.display()))?;
        Ok(GeoIp { reader })
    }

    /// ISO 3166-1 alpha-2 code, or `None` for private addresses and addresses not in the database.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let ip = crate::client_ip::canonical(ip);
        if !is_public(ip) {
            return None;
        }
        let record: CountryRecord = self.reader.lookup(ip).ok().flatten()?;
        record.country_code.or(record.country.and_then(|c| c.iso_code)).map(str::to_owned)
    }
}
