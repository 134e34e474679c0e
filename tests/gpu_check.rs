//! `tools/gpu_check` tried on the CPU with every schedule cut short: it makes the quickstart's data
//! and classifier in a fresh folder, runs the maps once per precision and measures them against the
//! first, times VGG16 InputIBA and two gradient methods on random images, and writes one JSON. (On
//! the CPU, "original" is strict fp32, so its maps must equal fp32's exactly.)
use std::path::Path;
use std::process::Command;

fn repo(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
}

#[test]
fn gpu_check_runs_its_parts_and_writes_one_json() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let out = Command::new(env!("CARGO_BIN_EXE_gpu_check"))
        .current_dir(cwd)
        .args(["--device", "cpu", "--out", "check.json", "--precisions", "fp32", "original"])
        .args(["--maps-config", &repo("configs/quickstart.toml"), "--vgg16-config", &repo("configs/vgg_imagenet.toml")])
        .args(["--maps-options", "synthetic.train_per_class=20", "synthetic.attribution_per_class=1"])
        .args(["train_classifier.epochs=1", "attributor.feat_iba.n_samples=20", "attributor.gan.epochs=0"])
        .args(["attributor.input_iba.opt_steps=3"])
        .args(["--side", "64", "--images", "2", "--estimation-images", "4", "--input-iba", "1:fp32", "2:fp32"])
        .args([
            "--vgg16-options",
            "attributor.gan.epochs=1",
            "attributor.gan.dataset_size=4",
            "attributor.gan.batch_size=4",
        ])
        .args(["attributor.feat_iba.opt_steps=2", "attributor.input_iba.opt_steps=2"])
        .args(["--gradient-batch", "2", "--gradient-configs"])
        .args([repo("configs/baselines/saliency.toml"), repo("configs/baselines/grad_cam.toml")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(cwd.join("check.json")).unwrap()).unwrap();

    let rows = r["precision"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row["images"], 4, "{row}");
        let diffs = row["max_abs_diff"].as_object().unwrap();
        for dir in ["feat_masks", "input_masks"] {
            assert_eq!(diffs[dir].as_f64(), Some(0.0), "{dir} against fp32 on the CPU: {row}");
        }
        let mass = row["mass_in_box"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&mass), "{row}");
        assert!(row["seconds_per_image"].as_f64().is_some_and(|s| s > 0.0), "the samples' recorded time: {row}");
    }
    assert!(cwd.join("workdirs/gpu_check/original/input_masks").is_dir());

    let iba = r["input_iba_vgg16"].as_array().unwrap();
    assert_eq!(iba.iter().map(|x| x["samples_per_batch"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2]);
    for x in iba {
        assert_eq!(x["image"], serde_json::json!([3, 64, 64]));
        assert_eq!(x["layer"], "features.17", "VGG16's layer of the original");
        assert!(x["attribution_s_per_image"].as_f64().unwrap() > 0.0);
    }
    let grads = r["gradients_vgg16"].as_array().unwrap();
    assert_eq!(grads.iter().map(|g| g["method"].as_str().unwrap()).collect::<Vec<_>>(), ["Saliency", "GradCam"]);
    assert!(grads.iter().all(|g| g["batch_size"] == 2 && g["s_per_image_batched"].as_f64().unwrap() > 0.0));
    assert_eq!(r["device"], "Cpu");
}
