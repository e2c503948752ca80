//! Quick look at training dynamics: `cargo run --release -p biodis-cells --example quick -- STEPS [relu|linear] [factorised|entangled] [key=value…]`.
use biodis_cells::analysis::{analyse, EvalSet};
use biodis_cells::train::{CellsTrain, Task, Trainer};
use biodis_cells::{CellActivation, CellsSpec};
use biodis_data::gridworld::WorldSpec;
use rand::SeedableRng;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let steps: u64 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut spec = CellsSpec::default();
    if a.get(2).map(|s| s.as_str()) == Some("linear") {
        spec.activation = CellActivation::Linear;
        spec.nonneg_projection = false;
        spec.beta_nonneg = 0.0;
    }
    let task = if a.get(3).map(|s| s.as_str()) == Some("entangled") {
        Task::Entangled
    } else {
        Task::Factorised
    };
    let mut lr = 1.2e-3;
    for kv in a.iter().skip(4) {
        let (k, v) = kv.split_once('=').expect("key=value");
        let f: f64 = v.parse().expect("number");
        match k {
            "nc" => spec.n_cells = f as usize,
            "K" => spec.euler_steps = f as usize,
            "clip" => spec.clip_norm = f,
            "pi_step" => spec.pi_step = f,
            "scale" => spec.init_scale = f,
            "bias" => spec.readout_bias = f > 0.0,
            "lr" => lr = f,
            "bpi" => spec.beta_pi = f,
            "bloc" => spec.beta_location = f,
            "bact" => spec.beta_activity = f,
            _ => panic!("unknown {k}"),
        }
    }
    let ws = WorldSpec::default();
    let tr = CellsTrain {
        task,
        steps,
        batch: 8,
        lr,
        schedule: Default::default(),
        eval_every: 100,
        eval_worlds: 16,
        null_shuffles: 50,
        object_k: 4,
        patch_k: 2,
    };
    let mut t = Trainer::new(spec.clone(), ws.clone(), tr, 0).unwrap();
    let t0 = std::time::Instant::now();
    for s in 0..steps {
        let l = t.step();
        if s % (steps / 10).max(1) == 0 || s + 1 == steps {
            println!("step {s:>6} {:.1}s total {:.4} loc {:.4} obj {:.4} act {:.4} pi {:.4} nn {:.5} actv {:.4} | locacc {:.3} actacc {:.3} objhit {:.3}",
                t0.elapsed().as_secs_f64(), l.total, l.location, l.object, l.action, l.pi, l.nonneg, l.activity, l.location_acc, l.action_acc, l.object_hit);
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut worlds = vec![ws.world_with(vec![])];
    while worlds.len() < 17 {
        let w = ws.sample(&mut rng);
        if !w.objects.is_empty() {
            worlds.push(w);
        }
    }
    let zs = t.infer_all(&worlds);
    let rl: Vec<_> = (0..16).map(|_| ws.sample(&mut rng)).collect();
    let (pw, pz) = match &t.fixed {
        Some(w) => (vec![w.clone()], t.infer_all(&[w.clone()])),
        None => (worlds[1..].to_vec(), zs[1..].to_vec()),
    };
    let l = t.model.layout;
    let th = &t.model.theta;
    let e = EvalSet {
        world: &ws,
        worlds: &worlds,
        zs: &zs,
        patch_worlds: &pw,
        patch_zs: &pz,
        random_layouts: &rl[..pw.len()],
        nc: l.nc,
        object_k: 4,
        patch_k: 2,
        null_shuffles: 50,
        seed: 1,
    };
    let (cells, pop) = analyse(
        &e,
        &th[l.w_loc..l.w_obj],
        &th[l.w_obj..l.b_obj],
        &th[l.w_act..l.b_act],
    );
    println!("{pop:?}");
    let mut act: Vec<_> = cells.iter().enumerate().filter(|c| c.1.active).collect();
    act.sort_by(|a, b| {
        b.1.stability
            .partial_cmp(&a.1.stability)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    for (i, c) in act {
        println!("cell {i:>3} mean {:.4} stab {:.3} grid {:.3} (p95 {:.3}) objc {:.3} patch {:.3} |Wl| {:.3} |Wo| {:.3} |Wt| {:.3}", c.mean_activity, c.stability, c.grid_score, c.grid_null_p95, c.object_consistency, c.patch_correlation, c.loc_weight, c.obj_weight, c.act_weight);
    }
    println!("time {:.1}s", t0.elapsed().as_secs_f64());
}
