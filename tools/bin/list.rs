//! `tools/list`: the registered component names, by kind.
use ibex::registry::{names, AttributorKind, DatasetKind, MetricKind, ModelKind};

fn main() {
    println!("model:      {}", names::<ModelKind>().join(", "));
    println!("dataset:    {}", names::<DatasetKind>().join(", "));
    println!("attributor: {}", names::<AttributorKind>().join(", "));
    println!("metric:     {}", names::<MetricKind>().join(", "));
    println!("            roar (tools/eval --metric roar: retrains a classifier per fraction removed; [eval.roar])");
}
