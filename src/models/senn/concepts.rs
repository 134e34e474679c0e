//! SENN's conceptizers (spec peers §2.3): x → concepts h [B,K] and a reconstruction x̂.
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// What a conceptizer gives: the concepts, the reconstruction, and for the β-VAE the posterior's
/// mean and log-variance (h = μ).
pub struct Concepts {
    pub h: Tensor,
    pub x_hat: Tensor,
    pub vae: Option<(Tensor, Tensor)>,
}

pub trait Conceptizer: Send {
    fn concepts(&self, x: &Tensor, train: bool) -> Concepts;
    /// The decoder alone, for the β-VAE's traversals: z [B,K] → x̂.
    fn decode(&self, _z: &Tensor) -> Option<Tensor> {
        None
    }
    /// Whether h is a posterior mean (the β-VAE).
    fn variational(&self) -> bool {
        false
    }
    /// The last encoder convolution's weights [K,C,kh,kw].
    fn filters(&self) -> Option<Tensor> {
        None
    }
}

/// COMPAS: the features are the concepts (h = x, x̂ = x).
pub struct Identity;

impl Conceptizer for Identity {
    fn concepts(&self, x: &Tensor, _train: bool) -> Concepts {
        Concepts { h: x.shallow_clone(), x_hat: x.shallow_clone(), vae: None }
    }
}

/// MNIST's ConvConceptizer with the seed's constructor defaults: [Conv(1→10, 5) → MaxPool 2 →
/// ReLU] 28→12, [Conv(10→K, 5) → MaxPool 2 → ReLU] 12→4, then one Linear(16 → 1) per concept
/// channel (ScalarMapping, always taken: quirk S1). Decoder: a shared Linear(1 → 16), then
/// ConvT(K→16, 5, s2) 4→11 → ReLU → ConvT(16→8, 5) 11→15 → ReLU → ConvT(8→1, 2, s2, p1) 15→28 →
/// Tanh (quirk S2: normalised MNIST exceeds [−1, 1], so x̂ never equals x).
pub struct Conv {
    enc: [nn::Conv2D; 2],
    scalar: Vec<nn::Linear>,
    dec_in: nn::Linear,
    dec: [nn::ConvTranspose2D; 3],
    k: i64,
}

impl Conv {
    pub fn new(p: &nn::Path, in_channels: i64, k: i64) -> Self {
        let conv = |j: usize, i, o| nn::conv2d(p / "encoder" / j, i, o, 5, Default::default());
        let enc = [conv(0, in_channels, 10), conv(1, 10, k)];
        let scalar = (0..k).map(|c| nn::linear(p / "scalar" / c, 16, 1, Default::default())).collect();
        let t = |j: usize, i, o, ks, s, pad| {
            let cfg = nn::ConvTransposeConfig { stride: s, padding: pad, ..Default::default() };
            nn::conv_transpose2d(p / "decoder" / j, i, o, ks, cfg)
        };
        let dec = [t(0, k, 16, 5, 2, 0), t(1, 16, 8, 5, 1, 0), t(2, 8, 1, 2, 2, 1)];
        Conv { enc, scalar, dec_in: nn::linear(p / "decoder_in", 1, 16, Default::default()), dec, k }
    }
}

impl Conceptizer for Conv {
    fn concepts(&self, x: &Tensor, _train: bool) -> Concepts {
        let a = self.enc[0].forward(x).max_pool2d_default(2).relu();
        let a = self.enc[1].forward(&a).max_pool2d_default(2).relu().flatten(2, 3); // [B,K,16]
        let h =
            Tensor::cat(&(0..self.k).map(|c| self.scalar[c as usize].forward(&a.select(1, c))).collect::<Vec<_>>(), 1);
        let x_hat = self.decode(&h).expect("a decoder");
        Concepts { h, x_hat, vae: None }
    }
    fn decode(&self, z: &Tensor) -> Option<Tensor> {
        let b = z.size()[0];
        let d = self.dec_in.forward(&z.unsqueeze(-1)).view([b, self.k, 4, 4]);
        let d = self.dec[0].forward(&d).relu();
        let d = self.dec[1].forward(&d).relu();
        Some(self.dec[2].forward(&d).tanh())
    }
    fn filters(&self) -> Option<Tensor> {
        Some(self.enc[1].ws.detach().copy())
    }
}

/// DiSENN's β-VAE: encoder 784→512→256→100 (ReLU after each), μ and log σ² from Linear(100 → K);
/// z = μ + σε in training, μ otherwise; decoder K→100→256→512→784 with ReLUs and a sigmoid.
pub struct Vae {
    enc: nn::Sequential,
    mu: nn::Linear,
    logvar: nn::Linear,
    dec: nn::Sequential,
    side: i64,
}

impl Vae {
    pub fn new(p: &nn::Path, side: i64, k: i64) -> Self {
        let n = side * side;
        let lin = |part: &str, j: usize, i, o| nn::linear(p / part / j, i, o, Default::default());
        let enc = nn::seq()
            .add(lin("encoder", 0, n, 512))
            .add_fn(Tensor::relu)
            .add(lin("encoder", 1, 512, 256))
            .add_fn(Tensor::relu)
            .add(lin("encoder", 2, 256, 100))
            .add_fn(Tensor::relu);
        let dec = nn::seq()
            .add(lin("decoder", 0, k, 100))
            .add_fn(Tensor::relu)
            .add(lin("decoder", 1, 100, 256))
            .add_fn(Tensor::relu)
            .add(lin("decoder", 2, 256, 512))
            .add_fn(Tensor::relu)
            .add(lin("decoder", 3, 512, n))
            .add_fn(Tensor::sigmoid);
        Vae { enc, mu: lin("mu", 0, 100, k), logvar: lin("logvar", 0, 100, k), dec, side }
    }
}

impl Conceptizer for Vae {
    fn concepts(&self, x: &Tensor, train: bool) -> Concepts {
        let e = self.enc.forward_t(&x.flatten(1, -1), train);
        let (mu, logvar) = (self.mu.forward(&e), self.logvar.forward(&e));
        let z = if train { &mu + (&logvar * 0.5).exp() * mu.randn_like() } else { mu.shallow_clone() };
        let x_hat = self.decode(&z).expect("a decoder");
        Concepts { h: mu.shallow_clone(), x_hat, vae: Some((mu, logvar)) }
    }
    fn decode(&self, z: &Tensor) -> Option<Tensor> {
        Some(self.dec.forward(z).view([-1, 1, self.side, self.side]))
    }
    fn variational(&self) -> bool {
        true
    }
}
