//! Embeds the migrations: every `migrations/<backend>/NNNN_name.sql` becomes an entry of
//! `MIGRATIONS_<BACKEND>` (version, description, SQL), so adding a migration is adding its file.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::new();
    for backend in ["sqlite", "postgres"] {
        let dir = root.join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        writeln!(out, "pub(crate) const MIGRATIONS_{}: &[(i64, &str, &str)] = &[", backend.to_uppercase()).unwrap();
        for (index, path) in files.iter().enumerate() {
            let stem = path.file_stem().and_then(|s| s.to_str()).expect("a UTF-8 file name");
            let (number, name) = stem.split_once('_').unwrap_or_else(|| panic!("{stem}: expected NNNN_name"));
            let version: i64 = number.parse().unwrap_or_else(|_| panic!("{stem}: the version must be a number"));
            assert_eq!(version, index as i64 + 1, "{}: versions run 1, 2, 3, … without gaps", path.display());
            let description = name.replace('_', " ");
            writeln!(out, "    ({version}, {description:?}, include_str!({:?})),", path.display().to_string()).unwrap();
        }
        out.push_str("];\n");
    }
    let target = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    std::fs::write(target, out).expect("write migrations.rs");
}
