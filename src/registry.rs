//! The component registry: a config table's `type = "Name"` picks a builder registered with
//! [`register!`]. One flat registry per component kind, populated at link time by `inventory`, so
//! adding a component is one file plus one `register!` line; `tests/registry.rs` checks that every
//! expected name is present, because a dropped `inventory::submit!` would otherwise be silent.
use crate::error::{Error, Result};
use figment::Figment;
use serde::de::DeserializeOwned;

/// What a builder may need besides its own parameters.
pub struct BuildCtx {
    pub device: tch::Device,
    /// Whether models load their `weights` file (false while training them from scratch).
    pub load_weights: bool,
}

/// A component kind: the trait object it builds and the word used in error messages. A new kind
/// (metrics, loggers) is a unit struct, this impl, and one `inventory::collect!` line.
pub trait Kind: 'static {
    type Object: ?Sized;
    const NAME: &'static str;
}

/// Builds a component from its (focused) config table; the `&str` is the table's key, for errors.
pub type BuildFn<K> = fn(&Figment, &str, &BuildCtx) -> Result<Box<<K as Kind>::Object>>;

/// One registry row: config name → builder of the component from its (focused) config table.
pub struct Entry<K: Kind> {
    pub name: &'static str,
    pub build: BuildFn<K>,
    /// Parses and validates the table without building (no files touched): config checks.
    pub check: fn(&Figment, &str) -> Result<()>,
    /// The table as the component reads it, every default filled in (`print_config --defaults`).
    pub resolve: fn(&Figment, &str) -> Result<serde_json::Value>,
}

/// Implemented by each concrete component; `Params` is its config table (with `deny_unknown_fields`).
pub trait Build<K: Kind> {
    type Params: DeserializeOwned;
    /// Range checks on the parsed table (see [`crate::config::validate`]); the registry runs them
    /// whenever it checks or builds the table. Parameters without a range check nothing.
    fn validate(_p: &Self::Params) -> crate::config::Checked {
        Ok(())
    }
    fn build(p: Self::Params, cx: &BuildCtx) -> Result<Box<K::Object>>;
}

pub struct ModelKind;
pub struct DatasetKind;
pub struct AttributorKind;
pub struct MetricKind;

impl Kind for ModelKind {
    type Object = dyn crate::models::Classifier;
    const NAME: &'static str = "model";
}
impl Kind for DatasetKind {
    type Object = dyn crate::data::Dataset;
    const NAME: &'static str = "dataset";
}
impl Kind for AttributorKind {
    type Object = dyn crate::attributors::Attributor;
    const NAME: &'static str = "attributor";
}

inventory::collect!(Entry<ModelKind>);
inventory::collect!(Entry<DatasetKind>);
impl Kind for MetricKind {
    type Object = dyn crate::metrics::Metric;
    const NAME: &'static str = "metric";
}

inventory::collect!(Entry<AttributorKind>);
inventory::collect!(Entry<MetricKind>);

/// Registers `$ty` under its own Rust name (so grep finds the config word and the type together).
#[macro_export]
macro_rules! register {
    ($kind:ty, $ty:ident) => {
        inventory::submit! {
            $crate::registry::Entry::<$kind> {
                name: stringify!($ty),
                build: |fig, key, cx| {
                    let p = fig.extract().map_err(|e| $crate::error::Error::config(key, e))?;
                    <$ty as $crate::registry::Build<$kind>>::validate(&p).map_err(|e| e.at(fig, key))?;
                    <$ty as $crate::registry::Build<$kind>>::build(p, cx)
                },
                check: |fig, key| {
                    let p = fig
                        .extract::<<$ty as $crate::registry::Build<$kind>>::Params>()
                        .map_err(|e| $crate::error::Error::config(key, e))?;
                    <$ty as $crate::registry::Build<$kind>>::validate(&p).map_err(|e| e.at(fig, key))
                },
                resolve: |fig, key| {
                    let p = fig
                        .extract::<<$ty as $crate::registry::Build<$kind>>::Params>()
                        .map_err(|e| $crate::error::Error::config(key, e))?;
                    serde_json::to_value(&p).map_err(|e| $crate::error::Error::ConfigMsg(format!("{key}: {e}")))
                },
            }
        }
    };
}

/// Builds the component configured at `key` (a dotted path such as `data.attribution`).
pub fn build<K: Kind>(fig: &Figment, key: &str, cx: &BuildCtx) -> Result<Box<K::Object>>
where
    Entry<K>: inventory::Collect,
{
    let (entry, sub) = lookup::<K>(fig, key)?;
    (entry.build)(&sub, key, cx)
}

/// Checks the table at `key`: a registered `type` and parameters that parse.
pub fn check<K: Kind>(fig: &Figment, key: &str) -> Result<()>
where
    Entry<K>: inventory::Collect,
{
    let (entry, sub) = lookup::<K>(fig, key)?;
    (entry.check)(&sub, key)
}

fn lookup<K: Kind>(fig: &Figment, key: &str) -> Result<(&'static Entry<K>, Figment)>
where
    Entry<K>: inventory::Collect,
{
    if fig.find_value(key).is_err() {
        return Err(Error::ConfigMsg(format!(
            "missing table `[{key}]` (needs a `type = ...` key; {} types: {:?})",
            K::NAME,
            names::<K>()
        )));
    }
    let sub = fig.focus(key);
    let name: String = sub.extract_inner("type").map_err(|e| Error::config(key, e))?;
    let entry = inventory::iter::<Entry<K>>.into_iter().find(|e| e.name == name).ok_or_else(|| Error::UnknownType {
        kind: K::NAME,
        key: key.into(),
        name,
        known: names::<K>(),
    })?;
    Ok((entry, sub))
}

/// The table at `key` with every default of its component filled in.
pub fn resolve<K: Kind>(fig: &Figment, key: &str) -> Result<serde_json::Value>
where
    Entry<K>: inventory::Collect,
{
    let (entry, sub) = lookup::<K>(fig, key)?;
    (entry.resolve)(&sub, key)
}

/// Sorted names registered for a kind.
pub fn names<K: Kind>() -> Vec<&'static str>
where
    Entry<K>: inventory::Collect,
{
    let mut v: Vec<_> = inventory::iter::<Entry<K>>.into_iter().map(|e| e.name).collect();
    v.sort_unstable();
    v
}
