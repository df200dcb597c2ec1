//! The running process as the transpiler sees it: this executable's ELF and
//! where the loader put it. (The transpiler itself knows nothing of the
//! process; this is the glue.)

use std::path::Path;

use x64wasm_transpile::{Image, TranspileError};

/// This executable's ELF (`/proc/self/exe`), with the libc and libm
/// functions it calls linked in (the variants this process runs:
/// `x64wasm_transpile::link`).
pub fn running_image() -> Result<Image, TranspileError> {
    let mut image = Image::from_file(Path::new("/proc/self/exe"))?;
    x64wasm_transpile::link(&mut image)?;
    Ok(image)
}

/// The load bias of this process: add it to an address in the ELF to get
/// the address in memory (0 for an executable that is not position
/// independent). Read from the first object `dl_iterate_phdr` reports, the
/// main program.
pub fn load_bias() -> u64 {
    let mut bias: u64 = 0;
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info; data is our &mut u64.
        unsafe { *(data as *mut u64) = (*info).dlpi_addr };
        1 // the first object is the main program; stop there
    }
    // SAFETY: the callback only writes through the pointer we pass.
    unsafe { libc::dl_iterate_phdr(Some(first), &mut bias as *mut u64 as *mut libc::c_void) };
    bias
}

#[cfg(test)]
mod tests {
    use super::*;

    #[no_mangle]
    extern "C" fn x64wasm_process_test_marker() -> u32 {
        7
    }

    #[test]
    fn the_load_bias_maps_image_addresses_to_this_process() {
        let image = running_image().expect("read the test binary");
        let symbol = image
            .symbol("x64wasm_process_test_marker")
            .expect("symbol in .symtab");
        let here = x64wasm_process_test_marker as *const () as u64;
        let bias = load_bias();
        assert_eq!(symbol.address.wrapping_add(bias), here, "bias {bias:#x}");
        assert_ne!(bias, 0, "test binaries are position independent");
    }
}
