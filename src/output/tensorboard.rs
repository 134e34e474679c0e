//! A TensorBoard event-file writer on `prost`. We write the events ourselves rather than use
//! `tensorboard-rs`, which transposes non-square images, panics on I/O errors and leaves most
//! summaries unimplemented. Format (TensorFlow's TFRecord): each record is
//! `len: u64 LE ‖ masked_crc32c(len) ‖ data ‖ masked_crc32c(data)`; the first event carries
//! `file_version = "brain.Event:2"`. Checked against TensorBoard's own `EventAccumulator` in tests.
use crate::error::{Error, Result};
use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `tensorflow.Event` (only the fields we write).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(message, tag = "5")]
    Summary(Summary),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Which TensorBoard plugin shows a tensor payload (`text` for Markdown).
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    #[prost(oneof = "Payload", tags = "2, 4, 8")]
    pub payload: Option<Payload>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Payload {
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    #[prost(message, tag = "4")]
    Image(Image),
    #[prost(message, tag = "8")]
    Tensor(TensorProto),
}

/// `tensorflow.SummaryMetadata`: the plugin that reads the value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    #[prost(string, tag = "1")]
    pub plugin_name: String,
}

/// `tensorflow.TensorProto`, as far as a string scalar needs it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// 7 = DT_STRING.
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShape>,
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub string_val: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShape {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    #[prost(int32, tag = "1")]
    pub height: i32,
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// 1 grey, 3 RGB, 4 RGBA.
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

pub struct EventWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

impl EventWriter {
    /// Starts a new event file in `dir` (one per run; TensorBoard reads them all).
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        let path = dir.join(format!("events.out.tfevents.{}.{host}.{}", now.as_secs(), std::process::id()));
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = EventWriter { path, file: std::io::BufWriter::new(file) };
        w.write(Event { wall_time: wall_time(), step: 0, what: Some(What::FileVersion("brain.Event:2".into())) })?;
        Ok(w)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn scalar(&mut self, tag: &str, step: i64, value: f64) -> Result<()> {
        self.summary(step, value_of(tag, Payload::SimpleValue(value as f32)))
    }

    /// A [3,H,W] u8 image, stored as PNG (height and width as given, never transposed).
    pub fn image(&mut self, tag: &str, step: i64, rgb_u8: &tch::Tensor) -> Result<()> {
        let size = rgb_u8.size();
        let png = super::maps::png_bytes(rgb_u8)?;
        self.image_png(tag, step, size[1] as i32, size[2] as i32, png)
    }

    /// An RGB image already encoded as PNG.
    pub fn image_png(&mut self, tag: &str, step: i64, height: i32, width: i32, png: Vec<u8>) -> Result<()> {
        let img = Image { height, width, colorspace: 3, encoded_image_string: png };
        self.summary(step, value_of(tag, Payload::Image(img)))
    }

    /// Markdown for TensorBoard's Text tab (tables render as tables).
    pub fn text(&mut self, tag: &str, step: i64, markdown: &str) -> Result<()> {
        let tensor = TensorProto {
            dtype: 7,
            tensor_shape: Some(TensorShape {}),
            string_val: vec![markdown.as_bytes().to_vec()],
        };
        let mut v = value_of(tag, Payload::Tensor(tensor));
        v.metadata = Some(SummaryMetadata { plugin_data: Some(PluginData { plugin_name: "text".into() }) });
        self.summary(step, v)
    }

    fn summary(&mut self, step: i64, v: SummaryValue) -> Result<()> {
        self.write(Event { wall_time: wall_time(), step, what: Some(What::Summary(Summary { value: vec![v] })) })
    }

    fn write(&mut self, ev: Event) -> Result<()> {
        let data = ev.encode_to_vec();
        let len = (data.len() as u64).to_le_bytes();
        let io = |e| Error::io(&self.path, e);
        self.file.write_all(&len).map_err(io)?;
        self.file.write_all(&masked_crc(&len).to_le_bytes()).map_err(io)?;
        self.file.write_all(&data).map_err(io)?;
        self.file.write_all(&masked_crc(&data).to_le_bytes()).map_err(io)?;
        self.file.flush().map_err(io)
    }
}

/// An event file made on the first scalar, so a run whose method trains nothing leaves no empty
/// TensorBoard run behind (the work dir's `fit/`).
pub struct LazyEventWriter {
    dir: PathBuf,
    writer: Option<EventWriter>,
}

impl LazyEventWriter {
    pub fn new(dir: &Path) -> Self {
        LazyEventWriter { dir: dir.to_path_buf(), writer: None }
    }

    fn writer(&mut self) -> Result<&mut EventWriter> {
        match self.writer {
            Some(ref mut w) => Ok(w),
            None => Ok(self.writer.insert(EventWriter::create(&self.dir)?)),
        }
    }

    /// Markdown for TensorBoard's Text tab, in the file made on the first value.
    pub fn text(&mut self, tag: &str, step: i64, markdown: &str) -> Result<()> {
        self.writer()?.text(tag, step, markdown)
    }
}

impl crate::logging::ScalarLog for LazyEventWriter {
    fn scalar(&mut self, tag: &str, step: i64, value: f64) -> Result<()> {
        self.writer()?.scalar(tag, step, value)
    }
}

fn value_of(tag: &str, payload: Payload) -> SummaryValue {
    SummaryValue { tag: tag.into(), metadata: None, payload: Some(payload) }
}

fn wall_time() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.)
}

/// Reads every event of a file, checking both CRCs of each record.
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |why: &str| Error::file(path, format!("corrupt event file: {why}"));
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes.get(at..at + 12).ok_or_else(|| bad("truncated header"))?;
        let len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes")) as usize;
        if masked_crc(&head[..8]) != u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) {
            return Err(bad("length CRC mismatch"));
        }
        let data = bytes.get(at + 12..at + 12 + len).ok_or_else(|| bad("truncated data"))?;
        let crc = bytes.get(at + 12 + len..at + 16 + len).ok_or_else(|| bad("truncated CRC"))?;
        if masked_crc(data) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(bad("data CRC mismatch"));
        }
        out.push(Event::decode(data).map_err(|e| bad(&e.to_string()))?);
        at += 16 + len;
    }
    Ok(out)
}
