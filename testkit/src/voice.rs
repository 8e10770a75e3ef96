//! Spoken words for tests: text read by espeak-ng and encoded by ffmpeg as 20 ms Opus
//! packets (what a speaker's client sends), and the guard that stops a helper process (the
//! transcription server) when a test ends. Needs espeak-ng and ffmpeg (`script/test`
//! installs them).

use std::path::Path;
use std::process::{Child, Command};

use assembly_archive::record::ogg;

/// A child process killed and reaped when dropped, however the test ends.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `text` spoken by espeak-ng and encoded as 20 ms Opus packets by ffmpeg; the WAV and Ogg
/// files are written in `dir` under `name`.
pub fn speech(dir: &Path, name: &str, text: &str) -> Vec<Vec<u8>> {
    let wav = dir.join(format!("{name}.wav"));
    let ogg_path = dir.join(format!("{name}.ogg"));
    let spoke = Command::new("espeak-ng")
        .args(["-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng is needed (apt-get install espeak-ng)");
    assert!(spoke.success());
    let encoded = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&wav)
        .args(["-ar", "48000", "-ac", "1", "-c:a", "libopus", "-b:a", "32k"])
        .args(["-frame_duration", "20", "-application", "voip"])
        .arg(&ogg_path)
        .status()
        .expect("ffmpeg is needed (apt-get install ffmpeg)");
    assert!(encoded.success());
    ogg::read_packets(&ogg_path).expect("the encoded speech reads back")
}
