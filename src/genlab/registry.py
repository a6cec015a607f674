"""The one table that maps CLI model names to classes (imported lazily: ``genlab list`` stays fast).

Adding a model is one row here — its class, default data, summary, training defaults and the system
that trains it; nothing else switches on model names.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from dataclasses import dataclass

from genlab.errors import UnknownNameError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    target: str  # "module:Class" of the model
    default_data: str
    summary: str
    #: training options this model needs by default, below YAML, flags and --set (fields of TrainConfig
    #: that default to None: batch_size, lr, grad_clip, ema_decay, num_samples); see training.config.complete
    train_defaults: dict = dataclasses.field(default_factory=dict)
    #: "module:Class" of the Lightning system that trains it (one per optimization recipe)
    system: str = "genlab.training.systems:ObjectiveSystem"

    def load_class(self) -> type:
        return _import(self.target)

    def load_system(self) -> type:
        """The system class (imports Lightning)."""
        return _import(self.system)


def _import(target: str) -> type:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


ADVERSARIAL = "genlab.training.systems:AdversarialSystem"
#: the closed-form models' system: one fit on the training split, no Trainer (training.systems.fit)
FIT = "genlab.training.systems:FitSystem"


def _adversarial(name: str, target: str, data: str, summary: str, *, lr: float = 2e-4) -> ModelEntry:
    """A GAN's row: the adversarial system, batch 64, Adam lr 2e-4 (Radford et al. 2015) unless given."""
    return ModelEntry(name, target, data, summary, train_defaults={"lr": lr, "batch_size": 64}, system=ADVERSARIAL)

#: the recurrent LMs' recipe: Adam 2e-3, 64 streams of 128 characters, the gradient norm clipped at 1 (F4)
LM_DEFAULTS = {"lr": 2e-3, "batch_size": 64, "grad_clip": 1.0, "num_samples": 2}

MODELS: dict[str, ModelEntry] = {
    e.name: e
    for e in [
        ModelEntry("vae", "genlab.models.vae:VAE", "mnist-binarized",
                   "variational autoencoder, MLP or conv, Bernoulli/Gaussian decoder (V1–V8)"),
        ModelEntry("dfc-vae", "genlab.models.dfc_vae:DFCVAE", "mnist",
                   "deep feature consistent VAE: reconstruction measured in the shipped LeNet's conv features "
                   "(Hou et al. 2016)"),
        ModelEntry("beta-vae", "genlab.models.beta_vae:BetaVAE", "mnist-binarized",
                   "VAE with KL weight β and linear KL warm-up (V6)"),
        ModelEntry("conv-vae", "genlab.models.beta_vae:ConvVAE", "mnist-binarized",
                   "convolutional VAE: stride-2 convs and transposed convs (V1–V8, C1, C7)"),
        ModelEntry("cvae", "genlab.models.cvae:CVAE", "mnist-binarized",
                   "conditional VAE: one-hot label into encoder and decoder, sample(n, y=...) (V1, V6)"),
        ModelEntry("iwae", "genlab.models.iwae:IWAE", "mnist-binarized",
                   "importance weighted autoencoder: trains on the k-sample bound (V8)"),
        ModelEntry("hvae", "genlab.models.hvae:HVAE", "mnist-binarized",
                   "Markov hierarchical VAE, 2–3 stochastic layers, warm-up and free bits (V9)"),
        ModelEntry("ae", "genlab.models.autoencoders:Autoencoder", "mnist",
                   "autoencoder, MLP or conv, under/overcomplete; samples via a code GMM (AE1, X1)"),
        ModelEntry("sparse-ae", "genlab.models.autoencoders:SparseAE", "mnist",
                   "sparse autoencoder, L1 penalty on the code (AE2)"),
        ModelEntry("denoising-ae", "genlab.models.autoencoders:DenoisingAE", "mnist",
                   "denoising autoencoder, Gaussian or masking corruption (AE3)"),
        ModelEntry("contractive-ae", "genlab.models.autoencoders:ContractiveAE", "mnist",
                   "contractive autoencoder, Jacobian Frobenius penalty (AE4)"),
        ModelEntry("stacked-ae", "genlab.models.autoencoders:StackedAE", "mnist",
                   "stacked autoencoder with optional greedy layer-wise pre-training (AE5)"),
        ModelEntry("pca", "genlab.models.pca:PCAModel", "mnist",
                   "PCA by SVD, fitted in closed form: codes, reconstructions, squared error (P5)", system=FIT),
        ModelEntry("ppca", "genlab.models.ppca:PPCAModel", "mnist",
                   "probabilistic PCA, fitted in closed form: exact log p(x), posterior, samples (V7, V8, X1)",
                   system=FIT),
        ModelEntry("lenet", "genlab.models.cnn:LeNet", "mnist",
                   "LeNet-style CNN classifier; its features drive FID/KID (C1, C2, C5, F2)"),
        ModelEntry("ddpm", "genlab.models.diffusion:DDPM", "mnist",
                   "denoising diffusion (DDPM/DDIM sampling), U-Net or MLP denoiser (D1–D4)",
                   train_defaults={"ema_decay": 0.999, "grad_clip": 1.0, "lr": 2e-4, "num_samples": 36}),
        ModelEntry("vdm", "genlab.models.diffusion:VDM", "mnist",
                   "variational diffusion model with a learned noise schedule (D5)",
                   train_defaults={"ema_decay": 0.999, "grad_clip": 1.0, "lr": 2e-4, "num_samples": 36}),
        _adversarial("gan", "genlab.models.gan:GAN", "ring8",
                     "GAN, non-saturating or minimax losses, MLP (vectors) or DCGAN (images) networks (G1–G3)"),
        _adversarial("unrolled-gan", "genlab.models.gan:UnrolledGAN", "ring8",
                     "unrolled GAN: the generator's loss through D unrolled k steps ahead (G6)"),
        _adversarial("pix2pix", "genlab.models.gan:Pix2Pix", "mnist-masked",
                     "pix2pix: U-Net generator, PatchGAN on (source, output), cGAN + λ·L1; masked digits (G8)"),
        _adversarial("dcgan", "genlab.models.gan:DCGAN", "mnist",
                     "DCGAN: transposed-conv generator, strided-conv discriminator, batch norm (G5)"),
        _adversarial("cgan", "genlab.models.gan:CGAN", "mnist",
                     "conditional DCGAN G(z, y), D(x, y) (projection); genlab sample RUN --y 3 (G7)"),
        _adversarial("wgan", "genlab.models.gan:WGAN", "mnist",
                     "Wasserstein GAN, weight clipping c = 0.01, n_critic 5, RMSProp (G9)", lr=5e-5),
        _adversarial("wgan-gp", "genlab.models.gan:WGANGP", "mnist",
                     "Wasserstein GAN with gradient penalty λ = 10, n_critic 5, Adam (0, 0.9) (G9)", lr=1e-4),
        ModelEntry("bigram", "genlab.models.text:BigramLM", "kjv",
                   "bigram language model: a learned table of next-token logits; the LMs' baseline (F1, F2)",
                   train_defaults={"lr": 0.1, "batch_size": 64, "num_samples": 4}),
        ModelEntry("lstm-lm", "genlab.models.text:RecurrentLM", "kjv",
                   "character LSTM LM: embedding, stacked LSTM, truncated BPTT with the state carried (R2, R4, R6, R8)",
                   train_defaults=LM_DEFAULTS),
        ModelEntry("gru-lm", "genlab.models.text:GRULM", "kjv",
                   "character GRU LM, the state carried along the stream (R2, R3, R6, R8)", train_defaults=LM_DEFAULTS),
        ModelEntry("rnn-lm", "genlab.models.text:RNNLM", "kjv",
                   "character vanilla-RNN LM (tanh), the state carried along the stream (R1, R2, R6, R8)",
                   train_defaults=LM_DEFAULTS),
        ModelEntry("bow-qa", "genlab.models.qa:BagOfWordsQA", "babi",
                   "bag-of-words QA baseline: story and question embeddings → answer word (F1, F2)",
                   train_defaults={"lr": 1e-2, "batch_size": 32, "num_samples": 8}),
        ModelEntry("memn2n", "genlab.models.qa:MemN2N", "babi",
                   "end-to-end memory network: K hops of attention over a story's sentences, PE, temporal encoding, "
                   "adjacent tying, linear start, random noise, as an S3 graph (S2, S3)",
                   train_defaults={"lr": 1e-2, "batch_size": 32, "grad_clip": 40.0, "num_samples": 8}),
        ModelEntry("lstm-qa", "genlab.models.qa:LSTMQA", "babi",
                   "the memory networks' LSTM baseline: reads the story then the question; its last state answers (R4)",
                   train_defaults={"lr": 1e-2, "batch_size": 32, "grad_clip": 5.0, "num_samples": 8}),
        *(ModelEntry(name, f"genlab.models.forecast:{cls}", "sunspots", summary,
                     train_defaults={"lr": 3e-3, "batch_size": 32, "grad_clip": 1.0})
          for name, cls, summary in [
              ("forecast-mlp", "ARMLP", "AR-MLP forecaster: an MLP on the last lags, fed back (S1; MC dropout, N5)"),
              ("forecast-rnn", "Forecaster", "LSTM (--set model.body=gru: GRU) forecaster, fed back (S1, N5)"),
              ("forecast-tcn", "TCNForecaster", "TCN forecaster: causal dilated convolutions (S1, C3, C4, N5)"),
              ("forecast-transformer", "TransformerForecaster", "causal transformer forecaster (S1, A3, N5)")]),
        ModelEntry("table-marginals", "genlab.models.tabular:TableMarginals", "cars",
                   "independent marginals of a mixed-type table: a Gaussian per numeric column, a categorical per "
                   "categorical column; the baseline synthetic tables must beat (G10)",
                   train_defaults={"lr": 0.05, "batch_size": 32}),
        ModelEntry("ctgan", "genlab.models.tabular:CTGAN", "penguins",
                   "conditional tabular GAN: mode-specific normalization, conditional vector and training-by-"
                   "sampling, PacGAN critic, WGAN-GP (Xu et al. 2019; G10); batch 200 fits small tables (the "
                   "paper's 500: --batch-size 500)", train_defaults={"lr": 2e-4, "batch_size": 200},
                   system=ADVERSARIAL),
        ModelEntry("tvae", "genlab.models.tabular:TVAE", "penguins",
                   "tabular VAE on mode-specific normalized rows (Xu et al. 2019; G10, V1–V4)",
                   train_defaults={"lr": 1e-3, "batch_size": 200}),
        ModelEntry("copula", "genlab.models.tabular:GaussianCopula", "penguins",
                   "Gaussian copula over the columns' empirical marginals, fitted in closed form: the synthetic "
                   "tables' classical baseline (G10)", system=FIT),
        ModelEntry("kn-lm", "genlab.models.text:KneserNeyLM", "kjv",
                   "interpolated Kneser–Ney character n-gram LM, fitted by counting (Kneser & Ney 1995; Chen & "
                   "Goodman 1998)", train_defaults={"num_samples": 4}, system=FIT),
        ModelEntry("transformer-lm", "genlab.models.text:TransformerLM", "kjv",
                   "causal transformer LM: positions sinusoidal/learned/relative, add/concat; pre/post-norm; "
                   "softmax or linear attention; KV-cached sampling in a sliding window (A3, A5–A9)",
                   train_defaults={"lr": 1e-3, "batch_size": 64, "grad_clip": 1.0, "num_samples": 2}),
        ModelEntry("seq2seq-rnn", "genlab.models.seq2seq:AttentionSeq2Seq", "cmudict",
                   "sequence to sequence with additive attention: bidirectional GRU/LSTM encoder, attentive decoder; "
                   "greedy or beam search (R6, R9); genlab eval RUN --beam 5",
                   train_defaults={"lr": 2e-3, "batch_size": 128, "grad_clip": 1.0, "num_samples": 12}),
        ModelEntry("seq2seq-transformer", "genlab.models.seq2seq:TransformerSeq2Seq", "cmudict",
                   "transformer encoder-decoder with cross-attention, pre-norm, sinusoidal positions; greedy or beam "
                   "search (A3-A6)",
                   train_defaults={"lr": 1e-3, "batch_size": 128, "grad_clip": 1.0, "num_samples": 12}),
        ModelEntry("text-classifier", "genlab.models.text:TextClassifier", "bbc-news",
                   "document classifier, many-to-one: embedding, bidirectional GRU/LSTM, attention (or mean, last) "
                   "pooling, softmax (R7, R9, F1, F2)",
                   train_defaults={"lr": 5e-3, "batch_size": 32, "grad_clip": 1.0, "num_samples": 4}),
    ]
}


def get_model(name: str) -> ModelEntry:
    """The registry entry for ``name``; unknown names list the known ones."""
    if name not in MODELS:
        close = difflib.get_close_matches(name, MODELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(MODELS))}")
    return MODELS[name]
