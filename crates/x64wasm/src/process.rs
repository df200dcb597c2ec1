//! The running process as the transpiler sees it: this executable's ELF and
//! where the loader put it. (The transpiler itself knows nothing of the
//! process; this is the glue.)

use std::path::Path;

use x64wasm_transpile::{Image, TranspileError};

/// This executable's ELF (`/proc/self/exe`).
pub fn running_image() -> Result<Image, TranspileError> {
    Image::from_file(Path::new("/proc/self/exe"))
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

/// Runs `job` on every item on up to one thread per core, and returns the
/// results in item order: how an app transpiles all its callbacks at start
/// (each its own module; they differ in cost, so the items are dealt out
/// round-robin rather than in runs).
pub fn each_on_cores<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(job).collect();
    }
    let mut slots: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let job = &job;
        let dealt: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..items.len())
                        .step_by(threads)
                        .map(|k| (k, job(&items[k])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in dealt {
            let done = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (k, result) in done {
                slots[k] = Some(result);
            }
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every item was dealt to a thread"))
        .collect()
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

    #[test]
    fn every_item_once_in_order() {
        let items: Vec<u64> = (0..37).collect();
        assert_eq!(
            each_on_cores(&items, |&k| k * k),
            items.iter().map(|k| k * k).collect::<Vec<_>>()
        );
        assert!(each_on_cores(&[] as &[u64], |&k| k).is_empty());
    }
}
