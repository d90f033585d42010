//! The file layer the store writes through: the real file system, and [`FaultFs`], an in-memory one that models
//! what survives a power cut (only what was synced), tears writes and fails syncs, for the unit tests.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// A file open for appending.
pub trait AppendFile: Send + std::fmt::Debug {
    /// Writes all of `buf` at the end of the file (one `write(2)` for the real file system: after it returns the
    /// bytes are in the kernel, so a killed process loses none of them).
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// `fdatasync`: the bytes written so far survive a power cut once this returns.
    fn sync(&mut self) -> io::Result<()>;
}

/// The operations the store needs from a file system. Paths are absolute or relative to the working directory.
pub trait Fs: Send + Sync + std::fmt::Debug {
    /// Creates the directory and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Opens `path` for appending, creating it empty if it does not exist.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>>;
    /// The whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Cuts the file to `len` bytes and syncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// The names of the files in `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Syncs the directory itself, so files created, renamed or removed in it stay so after a power cut.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// The real file system (std::fs; `sync` is `fdatasync` on Linux).
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

#[derive(Debug)]
struct RealFile(std::fs::File);

impl AppendFile for RealFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

impl Fs for RealFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Box::new(RealFile(file)))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // On Linux a directory opened read-only can be fsynced; that makes its entries durable.
        std::fs::File::open(dir)?.sync_all()
    }
}

/// One file's contents: what the kernel has, and what is on the platter.
#[derive(Debug, Default, Clone)]
struct Inode {
    current: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct FaultState {
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    /// Directory entries (full path → inode) as the running system sees them.
    dir: BTreeMap<PathBuf, u64>,
    /// Directory entries as they are on disk: changed by `sync_dir` only.
    dir_durable: BTreeMap<PathBuf, u64>,
    /// Successful syncs so far (file and directory syncs), so tests count them.
    syncs: u64,
    /// File data syncs so far.
    file_syncs: u64,
    /// Bytes appended so far.
    bytes_written: u64,
    /// Fail the sync after this many more succeed (`Some(0)`: the next one fails).
    fail_sync_in: Option<u64>,
    /// How long a file sync takes (a simulated device, not a wait for a condition).
    sync_latency: std::time::Duration,
}

/// An in-memory file system for tests, with faults: [`FaultFs::power_cut`] keeps only what was synced (file data
/// by `sync`, directory entries by `sync_dir`), optionally tearing the unsynced tail of each file at a byte;
/// [`FaultFs::fail_sync_after`] makes a sync fail with EIO. Clones share the same files.
#[derive(Debug, Clone, Default)]
pub struct FaultFs(Arc<Mutex<FaultState>>);

#[derive(Debug)]
struct FaultFile {
    fs: FaultFs,
    inode: u64,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
}

impl FaultFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A test that panicked while holding it has already failed; the data is still consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A deep copy: the files as they are now, independent of this one from here on (a crash image while the
    /// store goes on writing to the original).
    pub fn fork(&self) -> FaultFs {
        let state = self.lock();
        FaultFs(Arc::new(Mutex::new(FaultState {
            inodes: state.inodes.clone(),
            next_inode: state.next_inode,
            dir: state.dir.clone(),
            dir_durable: state.dir_durable.clone(),
            ..FaultState::default()
        })))
    }

    /// Every file sync takes this long from now on: a slow disk, so group commit has batches to form.
    pub fn set_sync_latency(&self, latency: std::time::Duration) {
        self.lock().sync_latency = latency;
    }

    /// Syncs (file and directory) that succeeded so far.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// File data syncs (`fdatasync`) that succeeded so far.
    pub fn file_syncs(&self) -> u64 {
        self.lock().file_syncs
    }

    /// Bytes appended to files so far.
    pub fn bytes_written(&self) -> u64 {
        self.lock().bytes_written
    }

    /// The sync after `n` more successful ones fails with EIO, and every one after it.
    pub fn fail_sync_after(&self, n: u64) {
        self.lock().fail_sync_in = Some(n);
    }

    /// A power cut: every file loses what was not synced, except that the first `keep_unsynced(path, unsynced
    /// length)` bytes of its unsynced tail may survive (a torn write); directory changes not synced are undone.
    pub fn power_cut_with(&self, mut keep_unsynced: impl FnMut(&Path, usize) -> usize) {
        let mut state = self.lock();
        state.dir = state.dir_durable.clone();
        let names: Vec<(PathBuf, u64)> = state.dir.iter().map(|(p, i)| (p.clone(), *i)).collect();
        let mut kept = std::collections::HashSet::new();
        for (path, inode) in names {
            kept.insert(inode);
            let file = state.inodes.get_mut(&inode).expect("entries point at inodes");
            // Only an appended tail is modelled: the synced part is a prefix of the current contents.
            let synced = file.durable.len().min(file.current.len());
            let unsynced = file.current.len() - synced;
            let keep = keep_unsynced(&path, unsynced).min(unsynced);
            file.current.truncate(synced + keep);
            file.durable = file.current.clone();
        }
        state.inodes.retain(|inode, _| kept.contains(inode));
        state.fail_sync_in = None;
    }

    /// A power cut that loses everything not synced.
    pub fn power_cut(&self) {
        self.power_cut_with(|_, _| 0);
    }

    /// The current contents of a file (tests corrupt and inspect files through these).
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let state = self.lock();
        state.dir.get(path).map(|i| state.inodes[i].current.clone())
    }

    /// Replaces a file's contents, durably (a corruption the disk made).
    pub fn set_contents(&self, path: &Path, data: Vec<u8>) {
        let mut state = self.lock();
        let inode = *state.dir.get(path).expect("file exists");
        let file = state.inodes.get_mut(&inode).expect("inode");
        file.current.clone_from(&data);
        file.durable = data;
    }

    /// The file names in the directory `dir`, sorted.
    pub fn names(&self, dir: &Path) -> Vec<String> {
        let mut names = self.list(dir).unwrap_or_default();
        names.sort();
        names
    }

    fn sync_allowed(state: &mut FaultState) -> io::Result<()> {
        match state.fail_sync_in {
            Some(0) => Err(io::Error::other("injected fsync failure (EIO)")),
            Some(n) => {
                state.fail_sync_in = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl AppendFile for FaultFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut state = self.fs.lock();
        state.bytes_written += buf.len() as u64;
        state
            .inodes
            .get_mut(&self.inode)
            .expect("open inode")
            .current
            .extend_from_slice(buf);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let latency = self.fs.lock().sync_latency;
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }
        let mut state = self.fs.lock();
        FaultFs::sync_allowed(&mut state)?;
        state.syncs += 1;
        state.file_syncs += 1;
        let file = state.inodes.get_mut(&self.inode).expect("open inode");
        file.durable = file.current.clone();
        Ok(())
    }
}

impl Fs for FaultFs {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>> {
        let mut state = self.lock();
        let inode = match state.dir.get(path) {
            Some(inode) => *inode,
            None => {
                state.next_inode += 1;
                let inode = state.next_inode;
                state.inodes.insert(inode, Inode::default());
                state.dir.insert(path.to_owned(), inode);
                inode
            }
        };
        Ok(Box::new(FaultFile {
            fs: self.clone(),
            inode,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.contents(path).ok_or_else(|| not_found(path))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut state = self.lock();
        let inode = *state.dir.get(path).ok_or_else(|| not_found(path))?;
        FaultFs::sync_allowed(&mut state)?;
        let file = state.inodes.get_mut(&inode).expect("inode");
        file.current.truncate(len as usize);
        file.durable = file.current.clone();
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut state = self.lock();
        let inode = state.dir.remove(from).ok_or_else(|| not_found(from))?;
        state.dir.insert(to.to_owned(), inode);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut state = self.lock();
        state.dir.remove(path).ok_or_else(|| not_found(path))?;
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let state = self.lock();
        Ok(state
            .dir
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.lock();
        FaultFs::sync_allowed(&mut state)?;
        state.syncs += 1;
        let entries: Vec<(PathBuf, u64)> = state
            .dir
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(p, i)| (p.clone(), *i))
            .collect();
        state.dir_durable.retain(|p, _| p.parent() != Some(dir));
        state.dir_durable.extend(entries);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_power_cut_keeps_only_what_was_synced() {
        let fs = FaultFs::new();
        let dir = Path::new("/d");
        let a = dir.join("a");
        let mut file = fs.open_append(&a).unwrap();
        file.append(b"hello").unwrap();
        fs.power_cut();
        assert!(fs.contents(&a).is_none(), "the file's entry was never synced");
        let mut file = fs.open_append(&a).unwrap();
        file.append(b"hello").unwrap();
        file.sync().unwrap();
        fs.sync_dir(dir).unwrap();
        file.append(b" world").unwrap();
        fs.power_cut_with(|_, unsynced| unsynced / 2);
        assert_eq!(fs.contents(&a).unwrap(), b"hello wo");
        fs.rename(&a, &dir.join("b")).unwrap();
        fs.power_cut();
        assert_eq!(fs.names(dir), ["a"], "an unsynced rename is undone");
    }

    #[test]
    fn a_failing_sync_is_an_error() {
        let fs = FaultFs::new();
        let mut file = fs.open_append(Path::new("/f")).unwrap();
        fs.fail_sync_after(1);
        file.sync().unwrap();
        assert!(file.sync().is_err());
        assert!(file.sync().is_err(), "stays failed");
        assert_eq!(fs.file_syncs(), 1);
    }
}
