# Reference values for tests/reference/test_confint_vs_r.py: lme4's confint.merMod (profile
# and Wald) and pbkrtest's PBmodcomp / RLRsim's exactLRT bootstrap p-values.
# Run from the repository root: Rscript tests/reference/make_confint.R (about six minutes)
#
# lme4's profile (devfun2) refits a REML fit by ML and profiles the ML deviance, so every
# case records the θ of its ML refit: the Python test computes at that θ. confint(profile)
# interpolates the profile by splines between the points profile() evaluated; the fine
# profile (delta.cutoff = 1/64) is recorded too, closer to the exact roots.
suppressMessages({
  library(lme4)
  library(pbkrtest)
  library(RLRsim)
  library(jsonlite)
})
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
datasets <- list(sleepstudy = sleepstudy, Dyestuff = Dyestuff, Dyestuff2 = Dyestuff2,
                 Penicillin = Penicillin)
read_ds <- function(name) {
  # the data exactly as bayesmixed ships them
  d <- read.csv(file.path("bayesmixed", "datasets", paste0(name, ".csv")),
                stringsAsFactors = TRUE)
  d
}
ci_list <- function(ci) {
  lapply(seq_len(nrow(ci)), function(i) list(
    name = rownames(ci)[i], low = unname(ci[i, 1]), high = unname(ci[i, 2])))
}
cases <- list(
  list(name = "sleepstudy_slopes", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days | Subject)", reml = TRUE),
  list(name = "sleepstudy_slopes_ml", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days | Subject)", reml = FALSE),
  list(name = "dyestuff", data = "Dyestuff", formula = "Yield ~ 1 + (1 | Batch)", reml = TRUE),
  list(name = "penicillin", data = "Penicillin",
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", reml = TRUE),
  list(name = "dyestuff2_singular", data = "Dyestuff2", formula = "Yield ~ 1 + (1 | Batch)",
       reml = FALSE)
)
out <- list(confint = list(), bootstrap = list())
for (cs in cases) {
  d <- read_ds(cs$data)
  m <- lmer(as.formula(cs$formula), d, REML = cs$reml, control = ctrl)
  mml <- refitML(m)
  prof <- suppressWarnings(profile(m, signames = TRUE))
  fine <- suppressWarnings(profile(m, signames = TRUE, delta.cutoff = 1 / 64, maxpts = 400))
  out$confint[[cs$name]] <- list(
    data = cs$data, formula = cs$formula, reml = cs$reml,
    theta = unname(getME(m, "theta")), theta_ml = unname(getME(mml, "theta")),
    profile = ci_list(suppressWarnings(confint(prof, level = 0.95))),
    profile_fine = ci_list(suppressWarnings(confint(fine, level = 0.95))),
    profile_90 = ci_list(suppressWarnings(confint(fine, level = 0.90))),
    wald = ci_list(confint(m, method = "Wald", level = 0.95))
  )
  cat(cs$name, "\n")
  print(confint(prof))
}
# parametric bootstrap LRTs; PBmodcomp's p-value is (1 + #{LRT* >= LRT}) / (nsim + 1). PBmodcomp
# does not take an lm as the smaller model, so the random intercept against lm is checked
# against RLRsim's exactLRT (the exact finite-sample null distribution of the ML LRT) only;
# exactRLRT (REML statistic) checks the bootstrap of anova(refit = FALSE).
nsim <- 2000
boots <- list(
  list(name = "dyestuff_intercept", data = "Dyestuff",
       small = "Yield ~ 1", large = "Yield ~ 1 + (1 | Batch)"),
  list(name = "sleepstudy_days", data = "sleepstudy",
       small = "Reaction ~ 1 + (1 | Subject)", large = "Reaction ~ Days + (1 | Subject)"),
  list(name = "pastes_batch", data = "Pastes",
       small = "strength ~ 1 + (1 | batch:cask)",
       large = "strength ~ 1 + (1 | batch) + (1 | batch:cask)",
       only = "strength ~ 1 + (1 | batch)")
)
for (b in boots) {
  d <- read_ds(b$data)
  m1 <- lmer(as.formula(b$large), d, REML = FALSE, control = ctrl)
  rec <- list(data = b$data, small = b$small, large = b$large, nsim = nsim)
  if (grepl("|", b$small, fixed = TRUE)) {
    m0 <- lmer(as.formula(b$small), d, REML = FALSE, control = ctrl)
    pb <- suppressWarnings(PBmodcomp(m1, m0, nsim = nsim, seed = 20240501))
    tab <- pb$test
    rec$stat <- tab["LRT", "stat"]
    rec$p_chisq <- tab["LRT", "p.value"]
    rec$p_pb <- tab["PBtest", "p.value"]
    rec$n_extremes <- sum(pb$ref >= tab["LRT", "stat"])
    rec$n_ref <- length(pb$ref)
  } else {
    m0 <- lm(as.formula(b$small), d)
    ex <- exactLRT(m1, m0, nsim = 100000, seed = 20240501)
    rec$exact_lrt_p <- unname(ex$p.value)
    rec$exact_lrt_stat <- unname(ex$statistic)
    rec$exact_nsim <- 100000
  }
  if (!is.null(b$only)) {
    mA <- lmer(as.formula(b$large), d, control = ctrl)
    mr0 <- lmer(as.formula(b$small), d, control = ctrl)
    m <- lmer(as.formula(b$only), d, control = ctrl)
    ex <- exactRLRT(m, mA, mr0, nsim = 100000, seed = 20240501)
    rec$exact_rlrt_p <- unname(ex$p.value)
    rec$exact_rlrt_stat <- unname(ex$statistic)
    rec$exact_nsim <- 100000
  }
  out$bootstrap[[b$name]] <- rec
  cat(b$name, "\n")
  str(rec)
}
write_json(out, "tests/reference/fixtures/confint.json", auto_unbox = TRUE, digits = NA,
           pretty = TRUE, null = "null", na = "null")
