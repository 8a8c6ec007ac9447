//! ONNX export verified against the real peer, ONNX Runtime (the `onnxruntime` 1.31 wheel's
//! library through the `ort` crate): every lowering primitive and every leaf block against
//! burn with random weights and randomised BatchNorm statistics (so folding is exercised) at
//! odd sizes (max abs difference ≤ 1e-4); whole networks with fixed and dynamic sizes. The
//! model-level checks on CamVid frames are in `tests/onnx_models.rs`.

mod common;

#[cfg(not(feature = "ort"))]
#[test]
fn onnx_runtime_checks_need_the_ort_feature() {
    common::missing("the ONNX Runtime checks: run the tests with `--features ort`");
}

#[cfg(feature = "ort")]
mod with_onnx_runtime {
    use burn::module::Module;
    use burn::nn::PaddingConfig2d;
    use burn::nn::pool::{AvgPool2dConfig, MaxPool2dConfig};
    use burn::prelude::*;
    use burn::store::ModuleSnapshot;
    use burn::store::bridge::from_data;
    use onnx_protobuf::Message;
    use ort::session::Session;
    use ort::value::TensorRef;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use rtseg::models::backbones::darts::{
        CellInput, CellOp, DartsNetwork, DartsNetworkConfig, FactorizedReduceConfig, Genotype,
        OpKind, ReluDwPwBnConfig,
    };
    use rtseg::models::backbones::mobilenet_v3::{
        InvertedResidualConfig, MobileNetV3, MobileNetV3Config, SqueezeExciteConfig,
    };
    use rtseg::models::backbones::resnet::{BasicBlockConfig, ResNet, ResNetConfig};
    use rtseg::models::backbones::xception::XceptionBlockConfig;
    use rtseg::models::decoders::attanet::{
        AfmAttention, AttentionFusionConfig, StripAttentionConfig,
    };
    use rtseg::models::decoders::bisenet::{
        AaffBlock, AaffBlockConfig, ContextBackboneKind, ContextPath, ContextPathConfig,
        FeatureFusion, FeatureFusionConfig, GateKind, SpatialPathConfig, SpatialPathKind, Upsample,
    };
    use rtseg::models::decoders::fsffnet::{
        FeatureScaling, FeatureScalingConfig, MultiStageFusion, MultiStageFusionConfig,
    };
    use rtseg::models::decoders::mfaranet::{
        FlowAlign, FlowAlignConfig, Mfam, MfamConfig, Ram, RamConfig,
    };
    use rtseg::models::decoders::mfma::{
        ConcatFusion, ConcatFusionConfig, ImageBranchConfig, MalcConfig, MasgConfig, MasgFusion,
        Mfa, MfaConfig,
    };
    use rtseg::models::heads::AsfmAttentionConfig;
    use rtseg::models::layers::{Activation, ConvBnActConfig, conv2d_config};
    use rtseg::models::lower::{Eager, Layer, Lower};
    use rtseg::models::registry;
    use rtseg::onnx::graph::{Dim, ElemType, OnnxGraph, Value};

    const TOLERANCE: f32 = 1e-4;

    fn device() -> Device {
        Device::default()
    }

    /// The module with random BatchNorm statistics and affine parameters and random biases, so
    /// that folding BatchNorm into the convolutions is tested with values that matter.
    fn perturb<M: Module + ModuleSnapshot>(mut module: M, seed: u64) -> M {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tensors = module.collect(None, None, true);
        let mut changed = Vec::new();
        for t in tensors {
            let (lo, hi) = match t.name.rsplit('.').next().unwrap_or_default() {
                "running_var" => (0.5, 2.0),
                "running_mean" => (-0.5, 0.5),
                "gamma" => (0.5, 1.5),
                "beta" | "bias" => (-0.3, 0.3),
                _ => continue,
            };
            let n: usize = t.shape.iter().product();
            let data: Vec<f32> = (0..n).map(|_| rng.random_range(lo..hi)).collect();
            changed.push(from_data(
                TensorData::new(data, t.shape.to_vec()),
                t.name.clone(),
                t.param_id,
            ));
        }
        let result = module.apply(changed, None, None, true);
        assert!(result.errors.is_empty(), "{:?}", result.errors);
        module
    }

    fn random_input(shape: [usize; 4], seed: u64) -> Tensor<4> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
        Tensor::from_data(TensorData::new(data, shape), &device())
    }

    fn values(t: &Tensor<4>) -> Vec<f32> {
        t.clone()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    fn session(bytes: &[u8]) -> Session {
        let env = rtseg::backend::ort::environment(None).expect("ONNX Runtime loads");
        Session::builder(env)
            .unwrap()
            .commit_from_memory(bytes)
            .expect("ONNX Runtime accepts the graph")
    }

    /// Runs a graph of fixed-shape f32 inputs `x0, x1, …` and output `y` in ONNX Runtime.
    fn run_graph(model: onnx_protobuf::ModelProto, inputs: &[Tensor<4>]) -> (Vec<usize>, Vec<f32>) {
        let bytes = model.write_to_bytes().unwrap();
        let mut session = session(&bytes);
        let data: Vec<(Vec<usize>, Vec<f32>)> = inputs
            .iter()
            .map(|t| (t.dims().to_vec(), values(t)))
            .collect();
        let feeds: Vec<(String, ort::session::SessionInputValue<'_>)> = data
            .iter()
            .enumerate()
            .map(|(i, (shape, v))| {
                let tensor = TensorRef::from_array_view((shape.clone(), v.as_slice())).unwrap();
                (format!("x{i}"), tensor.into())
            })
            .collect();
        let outputs = session.run(feeds).unwrap();
        let (shape, y) = outputs["y"].try_extract_tensor::<f32>().unwrap();
        (shape.iter().map(|&d| d as usize).collect(), y.to_vec())
    }

    /// `body` run by burn and recorded as ONNX, on inputs of `shapes`, must agree to
    /// [`TOLERANCE`]; with `dynamic`, the graph's H and W are dynamic.
    fn assert_lowerings_agree(
        name: &str,
        shapes: &[[usize; 4]],
        dynamic: bool,
        eager: impl Fn(&[Tensor<4>]) -> Tensor<4>,
        record: impl Fn(&mut OnnxGraph, &[Value]) -> Value,
    ) {
        let inputs: Vec<Tensor<4>> = shapes
            .iter()
            .enumerate()
            .map(|(i, &s)| random_input(s, 100 + i as u64))
            .collect();
        let want = eager(&inputs);
        let mut g = OnnxGraph::new(ElemType::F32);
        let values_in: Vec<Value> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let dims: Vec<Dim> = s
                    .iter()
                    .enumerate()
                    .map(|(axis, &n)| {
                        if dynamic && axis >= 2 {
                            Dim::Dynamic
                        } else {
                            Dim::Fixed(n)
                        }
                    })
                    .collect();
                g.input(
                    &format!("x{i}"),
                    ElemType::F32,
                    &dims,
                    &["n", "c", "h", "w"],
                )
            })
            .collect();
        let y = record(&mut g, &values_in);
        g.output(&y, "y", ElemType::F32, &["n", "c", "h", "w"]);
        let (shape, got) = run_graph(g.finish(name, "", &[]), &inputs);
        assert_eq!(shape, want.dims().to_vec(), "{name}: output shape");
        let want = values(&want);
        let diff = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!("{name}: max |burn − ORT| = {diff:.2e}");
        assert!(diff <= TOLERANCE, "{name}: max |burn − ORT| = {diff:e}");
    }

    /// A leaf layer checked at `shape`.
    fn assert_layer<M: Layer + Module + ModuleSnapshot>(name: &str, layer: M, shape: [usize; 4]) {
        let layer = perturb(layer, 7).valid();
        assert_lowerings_agree(
            name,
            &[shape],
            false,
            |x| layer.forward(x[0].clone()),
            |g, x| layer.emit_onnx(g, &x[0]),
        );
    }

    #[test]
    fn resize_matches_in_both_corner_modes_up_and_down_at_odd_sizes() {
        for (h, w, oh, ow) in [(7, 9, 23, 17), (35, 47, 9, 12), (6, 8, 6, 8), (5, 5, 18, 3)] {
            for align in [false, true] {
                assert_lowerings_agree(
                    &format!("resize {h}x{w}->{oh}x{ow} align {align}"),
                    &[[2, 3, h, w]],
                    false,
                    |x| Eager.resize(x[0].clone(), &oh, &ow, align),
                    |g, x| {
                        let (oh, ow) = (
                            rtseg::onnx::graph::Size::Fixed(oh),
                            rtseg::onnx::graph::Size::Fixed(ow),
                        );
                        Lower::resize(g, x[0].clone(), &oh, &ow, align)
                    },
                );
            }
        }
    }

    #[test]
    fn nearest_resize_matches_up_and_down_at_odd_sizes() {
        for (h, w, oh, ow) in [
            (7, 9, 23, 17),
            (35, 47, 9, 12),
            (23, 30, 45, 60),
            (1, 1, 5, 7),
        ] {
            assert_lowerings_agree(
                &format!("nearest {h}x{w}->{oh}x{ow}"),
                &[[2, 3, h, w]],
                false,
                |x| Eager.resize_nearest(x[0].clone(), &oh, &ow),
                |g, x| {
                    let (oh, ow) = (
                        rtseg::onnx::graph::Size::Fixed(oh),
                        rtseg::onnx::graph::Size::Fixed(ow),
                    );
                    Lower::resize_nearest(g, x[0].clone(), &oh, &ow)
                },
            );
        }
    }

    /// The context paths, the FFM with both gates and an AAFF block on the refined context.
    fn bisenet_parts<L: Lower>(
        paths: &[ContextPath],
        ffms: &[FeatureFusion],
        aaff: &AaffBlock,
        l: &mut L,
        x: &[L::V],
    ) -> L::V {
        let mut outs = Vec::new();
        for (path, ffm) in paths.iter().zip(ffms) {
            let [r8, r16] = path.lower(l, x[0].clone());
            let fused = ffm.lower(l, vec![r8.clone(), r8.clone()]);
            let aaff = aaff.lower(l, fused, r16);
            outs.push(l.resize_like(aaff, &x[0], false));
        }
        l.cat(outs)
    }

    #[test]
    fn xception_and_bisenet_blocks_agree() {
        assert_layer(
            "xception block stride 2",
            XceptionBlockConfig::new(8, 4, 2).init(&device()),
            [1, 8, 13, 11],
        );
        assert_layer(
            "xception block identity",
            XceptionBlockConfig::new(16, 4, 1).init(&device()),
            [1, 16, 9, 7],
        );
        for kind in [SpatialPathKind::Standard, SpatialPathKind::Depthwise] {
            assert_layer(
                &format!("spatial path {kind:?}"),
                SpatialPathConfig::new(kind)
                    .with_channels(8)
                    .with_c_out(6)
                    .init(&device()),
                [1, 3, 37, 29],
            );
        }
        let paths: Vec<ContextPath> = [
            (ContextBackboneKind::Resnet18, Upsample::Nearest),
            (ContextBackboneKind::Xception39, Upsample::Bilinear),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (backbone, upsample))| {
            let path = ContextPathConfig::new(backbone)
                .with_channels(8)
                .with_upsample(upsample)
                .init(&device());
            perturb(path, 20 + i as u64).valid()
        })
        .collect();
        let ffms: Vec<FeatureFusion> = [GateKind::ConvBn, GateKind::Mlp]
            .into_iter()
            .enumerate()
            .map(|(i, gate)| {
                let ffm = FeatureFusionConfig::new(16, 8)
                    .with_gate(gate)
                    .with_reduction(2)
                    .init(&device());
                perturb(ffm, 30 + i as u64).valid()
            })
            .collect();
        let aaff = perturb(AaffBlockConfig::new(8, 8, 6).init(&device()), 40).valid();
        assert_lowerings_agree(
            "context paths + ffm + aaff",
            &[[1, 3, 75, 99]],
            false,
            |x| bisenet_parts(&paths, &ffms, &aaff, &mut Eager, x),
            |g, x| bisenet_parts(&paths, &ffms, &aaff, g, x),
        );
    }

    #[test]
    fn attanet_blocks_agree() {
        assert_layer(
            "strip attention",
            StripAttentionConfig::new(8, 4).init(&device()),
            [2, 8, 9, 13],
        );
        for attention in [AfmAttention::Channel, AfmAttention::Pixel] {
            assert_layer(
                &format!("attention fusion {attention:?}"),
                AttentionFusionConfig::new(12, 6, 3)
                    .with_attention(attention)
                    .init(&device()),
                [1, 12, 11, 7],
            );
        }
    }

    /// The FSM on the deepest input, then the fusion over all three.
    fn fsffnet_parts<L: Lower>(
        fsm: &FeatureScaling,
        fusion: &MultiStageFusion,
        l: &mut L,
        x: &[L::V],
    ) -> L::V {
        let scaled = l.apply(fsm, x[2].clone());
        fusion.lower(l, x[0].clone(), x[1].clone(), scaled)
    }

    #[test]
    fn fsffnet_blocks_agree() {
        let fsm = perturb(FeatureScalingConfig::new(12).init(&device()), 50).valid();
        let fusion = perturb(
            MultiStageFusionConfig::new([8, 10, 12])
                .with_channels(8)
                .init(&device()),
            51,
        )
        .valid();
        // 1/8, 1/16 and 1/32 of a 200×264 input: odd sizes down to P7 at 2×3.
        for dynamic in [false, true] {
            assert_lowerings_agree(
                &format!("fsm + multi-stage fusion dynamic {dynamic}"),
                &[[1, 8, 25, 33], [1, 10, 13, 17], [1, 12, 7, 9]],
                dynamic,
                |x| fsffnet_parts(&fsm, &fusion, &mut Eager, x),
                |g, x| fsffnet_parts(&fsm, &fusion, g, x),
            );
        }
    }

    /// The generic primitives of [`Lower`] on dynamic and fixed shapes.
    fn primitives<L: Lower>(l: &mut L, x: &[L::V]) -> L::V {
        let a = l.shift_up_left(x[0].clone());
        let b = l.global_avg_pool(x[0].clone());
        let a = l.mul(a, b.clone());
        let a = l.sub(a, b);
        let c = l.channels(a, 1, 2);
        let (h, w) = (l.size(&x[1], 2), l.size(&x[1], 3));
        let (h2, w2) = (l.div_ceil(&h, 2), l.div_ceil(&w, 3));
        let c = l.resize(c, &h2, &w2, false);
        let d = l.resize_like(c, &x[1], true);
        let d = l.act(Activation::HardSwish, d);
        let e = l.act(Activation::HardSigmoid, x[1].clone());
        let f = l.add(d, e);
        l.cat(vec![f, x[1].clone()])
    }

    #[test]
    fn lowering_primitives_agree_with_fixed_and_dynamic_shapes() {
        for dynamic in [false, true] {
            assert_lowerings_agree(
                &format!("primitives dynamic {dynamic}"),
                &[[1, 4, 13, 11], [1, 2, 9, 15]],
                dynamic,
                |x| primitives(&mut Eager, x),
                primitives,
            );
        }
    }

    /// `x[1]` warped by the grid that `align` predicts from `x[0]` and `x[1]`.
    fn warp<L: Lower>(align: &FlowAlign, l: &mut L, x: &[L::V]) -> L::V {
        let grid = align.lower(l, x[0].clone(), x[1].clone());
        l.grid_sample(x[1].clone(), grid, true)
    }

    #[test]
    fn flow_grid_and_grid_sample_agree() {
        let align = perturb(FlowAlignConfig::new().with_channels(8).init(&device()), 3).valid();
        for dynamic in [false, true] {
            assert_lowerings_agree(
                &format!("flow align dynamic {dynamic}"),
                &[[1, 8, 11, 13], [1, 8, 6, 7]],
                dynamic,
                |x| warp(&align, &mut Eager, x),
                |g, x| warp(&align, g, x),
            );
        }
    }

    #[test]
    fn conv_bn_act_agrees_for_every_activation_stride_dilation_and_groups() {
        let acts = [
            Activation::None,
            Activation::Relu,
            Activation::HardSwish,
            Activation::HardSigmoid,
            Activation::Sigmoid,
            Activation::Swish,
        ];
        for (i, act) in acts.into_iter().enumerate() {
            let (kernel, stride, dilation, groups) = [
                (3, 1, 1, 1),
                (3, 2, 1, 4),
                (5, 2, 2, 8),
                (1, 1, 1, 1),
                (3, 1, 4, 2),
                (3, 2, 2, 8),
            ][i];
            // The Keras form (conv bias, ε 1e-3) on every other one.
            let keras = i % 2 == 1;
            let layer = ConvBnActConfig::new(8, 8, kernel)
                .with_stride(stride)
                .with_dilation(dilation)
                .with_groups(groups)
                .with_act(act)
                .with_bias(keras)
                .with_epsilon(if keras { 1e-3 } else { 1e-5 })
                .init(&device());
            assert_layer(
                &format!("cba {act:?} k{kernel} s{stride} d{dilation} g{groups}"),
                layer,
                [1, 8, 17, 23],
            );
        }
        let conv = conv2d_config(8, 5, 1).with_bias(true).init(&device());
        assert_layer("conv 1x1 with bias", conv, [2, 8, 9, 7]);
    }

    #[test]
    fn mobilenet_blocks_agree() {
        assert_layer(
            "squeeze-excite",
            SqueezeExciteConfig::new(16, 8).init(&device()),
            [1, 16, 13, 9],
        );
        let block = InvertedResidualConfig::new(16, 5, 72, 16, true, Activation::HardSwish, 1)
            .init(&device());
        assert_layer("inverted residual", block, [1, 16, 15, 11]);
        let block =
            InvertedResidualConfig::new(16, 3, 64, 24, false, Activation::Relu, 2).init(&device());
        assert_layer("inverted residual s2", block, [1, 16, 15, 11]);
    }

    fn fusions<L: Lower>(fuse: &ConcatFusion, mfa: &Mfa, l: &mut L, x: &[L::V]) -> L::V {
        let f = fuse.lower(l, x[0].clone(), x[1].clone());
        mfa.lower(l, f, x[1].clone())
    }

    #[test]
    fn mfma_blocks_agree() {
        assert_layer("malc", MalcConfig::new(12).init(&device()), [1, 12, 9, 13]);
        for fusion in [MasgFusion::SigmoidGate, MasgFusion::Add] {
            let masg = MasgConfig::new(16).with_fusion(fusion).init(&device());
            assert_layer(&format!("masg {fusion:?}"), masg, [2, 16, 7, 11]);
        }
        let branch = ImageBranchConfig::new(vec![(5, 8), (3, 12)]).init(&device());
        assert_layer("image branch", branch, [1, 3, 35, 47]);
        let fuse = perturb(ConcatFusionConfig::new(16, 8).init(&device()), 4).valid();
        let mfa = perturb(MfaConfig::new(8, 8).init(&device()), 5).valid();
        assert_lowerings_agree(
            "concat fusion + mfa",
            &[[1, 8, 5, 6], [1, 8, 9, 11]],
            false,
            |x| fusions(&fuse, &mfa, &mut Eager, x),
            |g, x| fusions(&fuse, &mfa, g, x),
        );
    }

    #[test]
    fn darts_operations_agree_at_both_strides() {
        assert_layer(
            "relu-dw-pw-bn",
            ReluDwPwBnConfig::new(8, 5, 2, 2).init(&device()),
            [1, 8, 13, 11],
        );
        assert_layer(
            "factorized reduce",
            FactorizedReduceConfig::new(8, 12).init(&device()),
            [1, 8, 13, 11],
        );
        let ops = [
            OpKind::SepConv3x3,
            OpKind::SepConv5x5,
            OpKind::DilConv3x3,
            OpKind::DilConv5x5,
            OpKind::MaxPool3x3,
            OpKind::AvgPool3x3,
            OpKind::SkipConnect,
        ];
        for op in ops {
            for stride in [1, 2] {
                let cell_op = CellOp::new(op, 8, stride, &device());
                assert_layer(&format!("{op:?} stride {stride}"), cell_op, [1, 8, 13, 11]);
            }
        }
        let pool = MaxPool2dConfig::new([3, 3])
            .with_strides([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init();
        assert_layer("max pool", pool, [1, 4, 9, 8]);
        let pool = AvgPool2dConfig::new([3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_count_include_pad(false)
            .init();
        assert_layer("avg pool", pool, [1, 4, 9, 8]);
        for reduce in [false, true] {
            let input = CellInput::new(8, 12, reduce, &device());
            assert_layer(
                &format!("cell input reduce {reduce}"),
                input,
                [1, 8, 13, 11],
            );
        }
    }

    /// MFAM over four features, then RAM aligning three of the scales.
    fn aggregate<L: Lower>(mfam: &Mfam, ram: &Ram, l: &mut L, x: &[L::V]) -> L::V {
        let features = [x[0].clone(), x[1].clone(), x[2].clone(), x[3].clone()];
        let fused = mfam.lower(l, features, 4);
        let aligned = ram.lower(l, &fused, &[1, 3, 4]);
        l.cat(aligned)
    }

    #[test]
    fn resnet_and_mfaranet_blocks_agree() {
        let block = BasicBlockConfig::new(8, 16, 2, 2).init(&device());
        assert_layer("basic block", block, [1, 8, 17, 13]);
        assert_layer(
            "asfm attention",
            AsfmAttentionConfig::new(8, 5).init(&device()),
            [1, 8, 9, 7],
        );
        let mfam = perturb(
            MfamConfig::new([8, 8, 8, 8])
                .with_channels(8)
                .init(&device()),
            6,
        )
        .valid();
        let ram = perturb(RamConfig::new().with_channels(8).init(&device()), 7).valid();
        let shapes = [[1, 8, 24, 30], [1, 8, 12, 15], [1, 8, 6, 8], [1, 8, 3, 4]];
        assert_lowerings_agree(
            "mfam + ram",
            &shapes,
            false,
            |x| aggregate(&mfam, &ram, &mut Eager, x),
            |g, x| aggregate(&mfam, &ram, g, x),
        );
    }

    /// Every tap of the three backbones, resized to the first and concatenated.
    fn all_taps<L: Lower>(
        mobilenet: &MobileNetV3,
        darts: &DartsNetwork,
        resnet: &ResNet,
        l: &mut L,
        x: &[L::V],
    ) -> L::V {
        let mut taps = mobilenet.lower(l, x[0].clone()).to_vec();
        taps.extend(darts.lower(l, x[0].clone()));
        taps.extend(resnet.lower(l, x[0].clone()));
        let like = taps[0].clone();
        let resized = taps
            .into_iter()
            .map(|t| l.resize_like(t, &like, false))
            .collect();
        l.cat(resized)
    }

    #[test]
    fn backbones_agree() {
        let mobilenet = perturb(MobileNetV3Config::new().init(&device()), 8).valid();
        let darts = perturb(
            DartsNetworkConfig::new()
                .with_genotype(Genotype::darts_v2())
                .init(&device()),
            9,
        )
        .valid();
        let resnet = perturb(ResNetConfig::new().init(&device()), 10).valid();
        assert_lowerings_agree(
            "backbones",
            &[[1, 3, 67, 93]],
            false,
            |x| all_taps(&mobilenet, &darts, &resnet, &mut Eager, x),
            |g, x| all_taps(&mobilenet, &darts, &resnet, g, x),
        );
    }

    /// Every registered network, seeded and BatchNorm-perturbed, at an odd fixed size and with
    /// dynamic H and W at two sizes.
    #[test]
    fn every_registered_network_agrees_fixed_and_dynamic() {
        for spec in registry(11) {
            device().seed(0);
            let model = perturb(spec.config.init(&device()), 11).valid();
            for (dynamic, shape) in [
                (false, [1, 3, 67, 93]),
                (true, [1, 3, 64, 80]),
                (true, [2, 3, 75, 66]),
            ] {
                assert_lowerings_agree(
                    &format!("{} dynamic {dynamic} {shape:?}", spec.name),
                    &[shape],
                    dynamic,
                    |x| model.forward(x[0].clone()),
                    |g, x| model.emit_onnx(g, &x[0]),
                );
            }
        }
    }
}
