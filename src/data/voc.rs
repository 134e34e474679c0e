//! VOC-style XML annotations (`object/name`, `bndbox/{xmin,ymin,xmax,ymax}`), as ImageNet's
//! bounding-box files and the synthetic generator write them. Coordinates are read as
//! `int(float(text))` like the original; `difficult` boxes are kept.
use crate::error::{Error, Result};
use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
pub struct VocObject {
    pub name: String,
    /// xmin, ymin, xmax, ymax in pixels of the annotated image.
    pub bbox: [f64; 4],
}

pub struct VocAnnotation {
    /// (width, height) from `size`, if present.
    pub size: Option<(f64, f64)>,
    pub objects: Vec<VocObject>,
}

pub fn read(path: &Path) -> Result<VocAnnotation> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text).map_err(|why| Error::file(path, why))
}

pub fn parse(text: &str) -> std::result::Result<VocAnnotation, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("invalid XML: {e}"))?;
    let child_text = |n: roxmltree::Node, tag: &str| {
        n.children().find(|c| c.has_tag_name(tag)).and_then(|c| c.text()).map(str::trim).map(str::to_owned)
    };
    let num = |n: roxmltree::Node, tag: &str| -> std::result::Result<f64, String> {
        let t = child_text(n, tag).ok_or(format!("missing <{tag}>"))?;
        t.parse::<f64>().map(f64::trunc).map_err(|_| format!("<{tag}> is not a number: `{t}`"))
    };
    let root = doc.root_element();
    let size = root
        .children()
        .find(|c| c.has_tag_name("size"))
        .and_then(|s| Some((num(s, "width").ok()?, num(s, "height").ok()?)));
    let mut objects = Vec::new();
    for obj in root.children().filter(|c| c.has_tag_name("object")) {
        let name = child_text(obj, "name").ok_or("an <object> without <name>")?;
        let b = obj.children().find(|c| c.has_tag_name("bndbox")).ok_or(format!("object `{name}` without <bndbox>"))?;
        objects.push(VocObject { name, bbox: [num(b, "xmin")?, num(b, "ymin")?, num(b, "xmax")?, num(b, "ymax")?] });
    }
    Ok(VocAnnotation { size, objects })
}

/// Writes a minimal VOC file (used by the synthetic generator).
pub fn to_xml(filename: &str, size: (u32, u32), objects: &[VocObject]) -> String {
    let mut s = format!(
        "<annotation>\n  <filename>{filename}</filename>\n  <size><width>{}</width><height>{}</height><depth>3</depth></size>\n",
        size.0, size.1
    );
    for o in objects {
        let [x0, y0, x1, y1] = o.bbox;
        s += &format!(
            "  <object>\n    <name>{}</name>\n    <difficult>0</difficult>\n    <bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox>\n  </object>\n",
            o.name
        );
    }
    s + "</annotation>\n"
}
