//! The memory-bound kernels (CUDA C++ in `kernels.cu`) and their NVRTC compilation to a
//! cubin for one `sm_XX`. Compiling needs libnvrtc but no GPU.
//!
//! libnvrtc opens `libnvrtc-builtins.so.<major>.<minor>` by bare name, so the folder
//! holding both (python3's `site-packages/nvidia/cu13/lib`, or `/usr/local/cuda/lib64`)
//! must be on `LD_LIBRARY_PATH`, not only libnvrtc itself.

use std::ffi::{c_char, CString};

use cudarc::nvrtc::{result as nvrtc, sys as nvrtc_sys};

use crate::error::{CalError, Result};

/// CUDA source of every kernel.
pub const SOURCE: &str = include_str!("kernels.cu");

/// Kernel entry points in [`SOURCE`].
pub const KERNELS: &[&str] = &[
    "fill_random",
    "copy_u4",
    "fill_u4",
    "sum_f4",
    "rmsnorm_bf16",
    "layernorm_bf16",
    "gelu_bf16",
    "swiglu_bf16",
    "adam_f32",
];

/// Whether libnvrtc can be opened (checked before any call, which would otherwise panic).
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen the library by its candidate names.
    unsafe { nvrtc_sys::is_culib_present() }
}

/// Fails with the exit-2 error when libnvrtc is missing.
pub fn require_nvrtc() -> Result<()> {
    if nvrtc_present() {
        Ok(())
    } else {
        Err(CalError::MissingLibrary {
            lib: "libnvrtc.so",
            hint: "NVRTC compiles the memory-bound kernels and the random fill",
        })
    }
}

/// NVRTC version as `major.minor`.
pub fn nvrtc_version() -> Result<String> {
    require_nvrtc()?;
    let (mut a, mut b) = (0, 0);
    // SAFETY: two out-pointers to live integers.
    unsafe { nvrtc_sys::nvrtcVersion(&mut a, &mut b) }
        .result()
        .map_err(|e| CalError::cuda("nvrtcVersion", e))?;
    Ok(format!("{a}.{b}"))
}

/// The real-architecture name for a compute capability: `(9, 0)` -> `sm_90`.
pub fn arch_for(cc: (i32, i32)) -> String {
    format!("sm_{}{}", cc.0, cc.1)
}

/// Compiles [`SOURCE`] for `arch` (`sm_90`) and returns the cubin. A real `sm_` target
/// makes NVRTC emit SASS, so loading needs no driver JIT and times what ships.
pub fn compile_cubin(arch: &str) -> Result<Vec<u8>> {
    require_nvrtc()?;
    let src = CString::new(SOURCE).expect("kernel source has no NUL");
    let prog = nvrtc::create_program(&src, Some(c"llmplan_calibrate_kernels.cu"))
        .map_err(|e| CalError::cuda("nvrtcCreateProgram", e))?;
    let opts = [
        format!("--gpu-architecture={arch}"),
        "--std=c++17".to_string(),
        "--use_fast_math".to_string(),
    ];
    // SAFETY: `prog` is live until destroyed below.
    let compiled = unsafe { nvrtc::compile_program(prog, &opts) };
    let out = match compiled {
        Ok(()) => cubin_of(prog),
        Err(e) => {
            // SAFETY: as above.
            let log = unsafe { nvrtc::get_program_log(prog) }
                .map(|l| c_chars_to_string(&l))
                .unwrap_or_default();
            Err(CalError::Cuda {
                what: format!("NVRTC compiling the kernels for {arch}"),
                detail: format!("{e:?}\n{log}"),
            })
        }
    };
    // SAFETY: created above, destroyed once.
    let _ = unsafe { nvrtc::destroy_program(prog) };
    out
}

fn cubin_of(prog: nvrtc_sys::nvrtcProgram) -> Result<Vec<u8>> {
    let mut size = 0usize;
    // SAFETY: `prog` compiled successfully; out-pointer to a live usize.
    unsafe { nvrtc_sys::nvrtcGetCUBINSize(prog, &mut size) }
        .result()
        .map_err(|e| CalError::cuda("nvrtcGetCUBINSize", e))?;
    if size == 0 {
        return Err(CalError::Cuda {
            what: "nvrtcGetCUBIN".into(),
            detail: "empty cubin (was a virtual compute_XX architecture given?)".into(),
        });
    }
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` holds `size` bytes as NVRTC asked.
    unsafe { nvrtc_sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr() as *mut c_char) }
        .result()
        .map_err(|e| CalError::cuda("nvrtcGetCUBIN", e))?;
    Ok(buf)
}

fn c_chars_to_string(v: &[c_char]) -> String {
    let bytes: Vec<u8> = v
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_is_an_extern_c_global() {
        for k in KERNELS {
            let sig = format!("extern \"C\" __global__ void {k}(");
            assert!(SOURCE.contains(&sig), "{k} missing from kernels.cu");
        }
        assert_eq!(arch_for((9, 0)), "sm_90");
        assert_eq!(arch_for((8, 9)), "sm_89");
    }

    /// Compiles for real where libnvrtc is on the loader path (no GPU needed); skips with
    /// a message elsewhere.
    #[test]
    fn compiles_to_a_cubin_when_nvrtc_is_present() {
        if !nvrtc_present() {
            eprintln!("skipped: libnvrtc not found (set LD_LIBRARY_PATH to run this test)");
            return;
        }
        for arch in ["sm_80", "sm_90"] {
            let cubin = compile_cubin(arch).unwrap_or_else(|e| panic!("{e}"));
            // An ELF image, not PTX text.
            assert_eq!(&cubin[..4], b"\x7fELF", "{arch}");
        }
    }
}
