//! Which KRO a graph is written for.

use std::fmt;
use std::str::FromStr;

/// The KRO release a graph targets. kroxide computes what that KRO would:
/// [`KroVersion::V0_9_3`] (the default) is the latest release;
/// [`KroVersion::Main`] is KRO's main branch after it (v0.9.3-54-g0302e659),
/// which adds `schema.shortNames` and `schema.categories` (put on the
/// instance CRD), the CEL function `deepMerge()`, and ordered deletion.
///
/// The command line takes it as `--kro-version main` (or the environment
/// variable `KROXIDE_KRO_VERSION`); the DSL as
/// `ResourceGraph::kro_version(KroVersion::Main)`. It is kept on the loaded
/// graph ([`crate::ResourceGraphDefinition::kro_version`]), never written
/// to YAML.
///
/// ```
/// use kroxide_model::KroVersion;
/// assert_eq!(KroVersion::default(), KroVersion::V0_9_3);
/// assert_eq!("main".parse::<KroVersion>(), Ok(KroVersion::Main));
/// assert_eq!("v0.9.3".parse::<KroVersion>(), Ok(KroVersion::V0_9_3));
/// assert_eq!(KroVersion::Main.to_string(), "main");
/// assert!("v0.10.0".parse::<KroVersion>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KroVersion {
    /// KRO v0.9.3, the latest release.
    #[default]
    V0_9_3,
    /// KRO's main branch after v0.9.3.
    Main,
}

impl KroVersion {
    /// Every version kroxide knows, oldest first.
    pub const ALL: [KroVersion; 2] = [KroVersion::V0_9_3, KroVersion::Main];

    /// Whether this KRO has what KRO main added after v0.9.3.
    pub fn is_main(self) -> bool {
        self == KroVersion::Main
    }
}

impl fmt::Display for KroVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KroVersion::V0_9_3 => "v0.9.3",
            KroVersion::Main => "main",
        })
    }
}

impl FromStr for KroVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "v0.9.3" | "0.9.3" => Ok(KroVersion::V0_9_3),
            "main" => Ok(KroVersion::Main),
            other => Err(format!(
                "unknown KRO version {other:?}: kroxide knows v0.9.3 (the default) and main"
            )),
        }
    }
}
