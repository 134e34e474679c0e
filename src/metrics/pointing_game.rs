//! Pointing game (Zhang et al. 2018): a hit when the map's maximum lies in the target's box (any of
//! the maximal pixels, as Quantus counts ties), optionally within `tolerance` pixels of it (Zhang et
//! al. use 15). The aggregate mean is the hit rate.
use super::{target_roi, EvalSample, Metric, SampleResult};
use crate::error::Result;
use crate::models::Classifier;
use crate::registry::{Build, BuildCtx, MetricKind};
use serde::{Deserialize, Serialize};
use tch::Kind;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PointingGameParams {
    #[serde(rename = "type")]
    pub type_: String,
    /// Pixels a maximum may lie outside the box and still hit.
    pub tolerance: i64,
}

impl Default for PointingGameParams {
    fn default() -> Self {
        PointingGameParams { type_: "PointingGame".into(), tolerance: 0 }
    }
}

pub struct PointingGame {
    p: PointingGameParams,
}

impl Metric for PointingGame {
    fn evaluate(&mut self, _model: &dyn Classifier, s: &EvalSample) -> Result<SampleResult> {
        let mut r = SampleResult::default();
        let Some((mut roi, _)) = target_roi(s, &mut r, 1.0) else { return Ok(r) };
        let (h, w) = (s.map.size()[0], s.map.size()[1]);
        if self.p.tolerance > 0 {
            let t = self.p.tolerance;
            roi = roi.view([1, 1, h, w]).max_pool2d([2 * t + 1, 2 * t + 1], [1, 1], [t, t], [1, 1], false).view([h, w]);
        }
        let map = s.map.to_kind(Kind::Double);
        let at_max = map.eq(map.max().double_value(&[]));
        let hit = (at_max.to_kind(Kind::Double) * roi.to_kind(Kind::Double)).sum(Kind::Double).double_value(&[]) > 0.0;
        if map.max().double_value(&[]) == map.min().double_value(&[]) {
            r.warnings.push("constant map: every pixel is a maximum".into());
        }
        r.values.push(("hit".into(), f64::from(u8::from(hit))));
        Ok(r)
    }
}

impl Build<MetricKind> for PointingGame {
    type Params = PointingGameParams;
    fn build(p: Self::Params, _cx: &BuildCtx) -> Result<Box<dyn Metric>> {
        Ok(Box::new(PointingGame { p }))
    }
}
crate::register!(MetricKind, PointingGame);
