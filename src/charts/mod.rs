//! Charts for planning documents, drawn with plotters: one style for every chart
//! (DejaVu Sans embedded, a colour-blind-safe palette, sizes in pixels), PNG and SVG.
//!
//! Text goes through plotters' `ab_glyph` renderer with DejaVu Sans registered from
//! the `dejavu` crate, so a PNG renders the same on a machine with no fonts installed.
//! An SVG names the family `sans-serif` and leaves glyphs to the viewer.

pub mod canvas;
pub mod gantt;
pub mod layouts;
pub mod memory;
pub mod sweep;
pub mod tornado;
pub mod validation;

use std::path::Path;
use std::sync::Once;

use plotters::style::{FontStyle, RGBColor};

use crate::error::{Error, Result};

/// The font family every chart uses (registered as DejaVu Sans).
pub const FONT: &str = "sans-serif";
/// Title size, pixels.
pub const TITLE_PX: f64 = 22.0;
/// Axis-label and legend size, pixels.
pub const LABEL_PX: f64 = 15.0;
/// Tick-label size, pixels.
pub const TICK_PX: f64 = 13.0;
/// Text inside bars, pixels.
pub const INSET_PX: f64 = 11.0;

/// Palette (Seaborn "deep", distinguishable with the common colour-vision deficiencies).
pub mod palette {
    use plotters::style::RGBColor;
    /// Blue: forward work.
    pub const BLUE: RGBColor = RGBColor(76, 114, 176);
    /// Orange: backward work.
    pub const ORANGE: RGBColor = RGBColor(221, 132, 82);
    /// Green: weight-gradient work.
    pub const GREEN: RGBColor = RGBColor(85, 168, 104);
    /// Red: optimizer.
    pub const RED: RGBColor = RGBColor(196, 78, 82);
    /// Purple: fused forward and backward.
    pub const PURPLE: RGBColor = RGBColor(129, 114, 179);
    /// Grey: point-to-point communication.
    pub const GREY: RGBColor = RGBColor(120, 120, 120);
    /// Teal: data-parallel communication.
    pub const TEAL: RGBColor = RGBColor(100, 181, 205);
    /// Light grey: grid lines and row backgrounds.
    pub const LIGHT: RGBColor = RGBColor(236, 236, 236);
}

/// Text colour on top of `bg`: black on light colours, white on dark ones.
pub fn text_on(bg: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = bg;
    let luma = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    if luma > 150.0 {
        RGBColor(0, 0, 0)
    } else {
        RGBColor(255, 255, 255)
    }
}

static FONTS: Once = Once::new();

/// Registers DejaVu Sans (regular and bold) as [`FONT`]; every chart calls it first,
/// and later calls do nothing.
pub fn register_fonts() {
    FONTS.call_once(|| {
        // The bytes are the crate's own TTFs, so a failure here is a packaging bug;
        // text would be skipped by plotters rather than crash.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Image formats the charts write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Raster, 8-bit RGB.
    Png,
    /// Vector.
    Svg,
}

impl Format {
    /// The format a path's extension names (`.png` or `.svg`, any case).
    pub fn of(path: &Path) -> Result<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(Error::Usage(format!(
                "{}: a chart must end in .png or .svg",
                path.display()
            ))),
        }
    }
}

/// A name beside `path` to write to before renaming over it, keeping `path`'s extension
/// (the PNG encoder picks its format from it).
pub fn temp_beside(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp{ext}", std::process::id()))
}

/// Writes `bytes` to a temporary name beside `path`, then renames it over `path`, so
/// a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_beside(path);
    let werr = |e: std::io::Error| Error::Write {
        path: path.display().to_string(),
        source: e,
    };
    std::fs::write(&tmp, bytes).map_err(werr)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        werr(e)
    })
}

/// Checks, before any work, that `path` can be written: its folder exists and takes a
/// new file, and `path` is not a folder. An output that cannot be written then fails
/// at once (exit 1), not after the whole computation.
pub fn check_writable(path: &Path) -> Result<()> {
    let werr = |e: std::io::Error| Error::Write {
        path: path.display().to_string(),
        source: e,
    };
    if path.is_dir() {
        return Err(werr(std::io::Error::other("is a directory")));
    }
    let probe = temp_beside(path);
    std::fs::write(&probe, b"").map_err(werr)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// A drawing error as a write failure on `path`.
pub(crate) fn draw_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}
