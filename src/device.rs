//! `--device cpu|cuda[:N]|metal[:N]|auto`: parsing and creation, with a clear error when the
//! backend was not compiled in.

use crate::error::{Error, Result};
use candle_core::Device;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    Cpu,
    Cuda(usize),
    Metal(usize),
    /// CUDA if compiled in and available, else Metal likewise, else CPU.
    Auto,
}

impl FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (kind, index) = match s.split_once(':') {
            Some((k, i)) => {
                let index = i.parse::<usize>().map_err(|_| Error::input(format!("device `{s}`: `{i}` is not a device index (0, 1, …)")))?;
                (k, Some(index))
            }
            None => (s, None),
        };
        match (kind, index) {
            ("cpu", None) => Ok(DeviceChoice::Cpu),
            ("auto", None) => Ok(DeviceChoice::Auto),
            ("cuda", i) => Ok(DeviceChoice::Cuda(i.unwrap_or(0))),
            ("metal", i) => Ok(DeviceChoice::Metal(i.unwrap_or(0))),
            _ => Err(Error::input(format!("unknown device `{s}`; allowed: cpu, cuda, cuda:N, metal, metal:N, auto"))),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
            DeviceChoice::Metal(i) => write!(f, "metal:{i}"),
            DeviceChoice::Auto => f.write_str("auto"),
        }
    }
}

impl DeviceChoice {
    /// Create the device. `Auto` resolves to the first available accelerator, else the CPU.
    pub fn create(self) -> Result<(Device, DeviceChoice)> {
        match self {
            DeviceChoice::Cpu => Ok((Device::Cpu, self)),
            DeviceChoice::Cuda(i) => {
                if !cfg!(feature = "cuda") {
                    return Err(Error::input(
                        "device `cuda` was requested, but this lossbench was built without CUDA support; rebuild with `cargo build --release --features cuda`",
                    ));
                }
                let d = Device::new_cuda(i).map_err(|e| Error::input(format!("cannot open CUDA device {i}: {e}")))?;
                Ok((d, self))
            }
            DeviceChoice::Metal(i) => {
                if !cfg!(feature = "metal") {
                    return Err(Error::input(
                        "device `metal` was requested, but this lossbench was built without Metal support; rebuild with `cargo build --release --features metal`",
                    ));
                }
                let d = Device::new_metal(i).map_err(|e| Error::input(format!("cannot open Metal device {i}: {e}")))?;
                Ok((d, self))
            }
            DeviceChoice::Auto => {
                if cfg!(feature = "cuda") {
                    if let Ok(d) = Device::new_cuda(0) {
                        return Ok((d, DeviceChoice::Cuda(0)));
                    }
                }
                if cfg!(feature = "metal") {
                    if let Ok(d) = Device::new_metal(0) {
                        return Ok((d, DeviceChoice::Metal(0)));
                    }
                }
                Ok((Device::Cpu, DeviceChoice::Cpu))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!("cuda:1".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda(1));
        assert_eq!("metal".parse::<DeviceChoice>().unwrap(), DeviceChoice::Metal(0));
        assert!("gpu".parse::<DeviceChoice>().is_err());
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
        if !cfg!(feature = "cuda") {
            let e = DeviceChoice::Cuda(0).create().err().unwrap().to_string();
            assert!(e.contains("--features cuda"), "{e}");
        }
        assert!(!DeviceChoice::Auto.create().unwrap().1.to_string().is_empty());
    }
}
