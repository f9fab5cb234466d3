fn main() {
    std::process::exit(plantdb::run(std::env::args_os()));
}
