//! Errors, and the process exit code each one maps to.

use std::path::PathBuf;

/// Result with [`CalError`].
pub type Result<T, E = CalError> = std::result::Result<T, E>;

/// Everything that can stop a calibration run.
#[derive(Debug, thiserror::Error)]
pub enum CalError {
    /// libcuda could not be opened: no NVIDIA driver on this machine.
    #[error(
        "no CUDA driver found (libcuda.so): llmplan-calibrate needs an NVIDIA GPU with its \
         driver installed; the shared measurements in hardware-profiles/calibration/ are used \
         until it runs on one"
    )]
    NoDriver,
    /// The driver loaded but reports no usable device.
    #[error("no CUDA device available: {0}")]
    NoDevice(String),
    /// A CUDA library other than the driver (cuBLASLt, NVRTC) could not be opened.
    #[error(
        "CUDA library {lib} not found: {hint} (put its folder on LD_LIBRARY_PATH, e.g. \
         python3's site-packages/nvidia/cu13/lib or /usr/local/cuda/lib64)"
    )]
    MissingLibrary {
        /// Library base name, e.g. `libcublasLt.so`.
        lib: &'static str,
        /// What it is needed for.
        hint: &'static str,
    },
    /// A CUDA, cuBLASLt or NVRTC call failed.
    #[error("{what}: {detail}")]
    Cuda {
        /// The operation that failed.
        what: String,
        /// The library's error.
        detail: String,
    },
    /// A bad input file or argument.
    #[error("{0}")]
    Input(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An error from the llmplan library (scenario loading, layout resolution).
    #[error("{0}")]
    Plan(String),
}

impl CalError {
    /// Process exit code: 2 when this machine cannot run the benchmarks at all (no
    /// driver, no device, a CUDA library missing), 1 for every other failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            CalError::NoDriver | CalError::NoDevice(_) | CalError::MissingLibrary { .. } => 2,
            _ => 1,
        }
    }

    /// Wraps a CUDA-side error with the operation that raised it.
    pub fn cuda(what: impl Into<String>, e: impl std::fmt::Debug) -> Self {
        CalError::Cuda {
            what: what.into(),
            detail: format!("{e:?}"),
        }
    }

    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CalError::Io {
            path: path.into(),
            source,
        }
    }
}
