//! The layering documented at the top of `src/lib.rs` holds: no module imports a module of a
//! higher layer (the registry, which names every component kind's trait, excepted).
use std::collections::BTreeMap;
use std::path::Path;

/// module → layer, from the table in `src/lib.rs` (`//! | 3 | `models` | … |`).
fn layers(lib: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let cells: Vec<&str> = line.trim_start_matches("//!").split('|').map(str::trim).collect();
        if let (Some(Ok(layer)), Some(mods)) = (cells.get(1).map(|c| c.parse::<usize>()), cells.get(2)) {
            for m in mods.split(',') {
                out.insert(m.trim().trim_matches('`').to_string(), layer);
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layers = layers(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut seen_modules = 0;
    let mut wrong = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let own = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if own == "lib" || own == "registry" {
            continue;
        }
        let own_layer = *layers.get(&own).unwrap_or_else(|| panic!("module `{own}` is not in the table of src/lib.rs"));
        seen_modules += 1;
        let text = std::fs::read_to_string(&f).unwrap();
        for (k, _) in text.match_indices("crate::") {
            let name: String = text[k + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            // comments and doc links count too: a doc that points upward is a dependency in prose
            if let Some(&l) = layers.get(&name) {
                if l > own_layer && name != "registry" {
                    wrong.push(format!("{} (layer {own_layer}) uses crate::{name} (layer {l})", rel.display()));
                }
            }
        }
    }
    assert!(seen_modules > 50, "only {seen_modules} files checked");
    assert!(wrong.is_empty(), "imports that point upward:\n{}", wrong.join("\n"));
}
