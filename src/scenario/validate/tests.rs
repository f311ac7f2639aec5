use super::*;

#[test]
fn zz_probe() {
    for f in std::fs::read_dir("/tmp/probe/c").unwrap() {
        let p = f.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        match parse_scenario(&text, p.file_name().unwrap().to_str().unwrap()) {
            Ok(_) => println!("{}: OK", p.display()),
            Err(e) => println!("{e}"),
        }
    }
}
