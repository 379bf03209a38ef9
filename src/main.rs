fn main() {
    println!("snf-occi {}", env!("CARGO_PKG_VERSION"));
}
