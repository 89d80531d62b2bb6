# Reference values for tests/reference/test_emmeans_gls_vs_r.py: emmeans 1.8 marginal means and
# contrasts of nlme::gls fits with residual structures (UN = corSymm + varIdent, AR1 = corAR1) on
# tests/reference/data/longitudinal_{balanced,unbalanced}.csv, in emmeans' three d.f. modes for gls
# ("auto" = Satterthwaite when apVar exists, "df.error", "asymptotic"); and the BLUPs of an
# lme random intercept with AR1 residuals, with their conditional SDs computed here from nlme's
# matrices (var(b | y) = G - G Z' V^-1 Z G per subject). emmeans' Satterthwaite df come with an
# accurate recomputation (see accurate_A below). Each case stores nlme's estimates so that a
# test can compare at R's parameters if the optimum differs.
# Run from the repository root: Rscript tests/reference/make_emmeans_gls.R
suppressMessages({
  library(nlme)
  library(emmeans)
  library(jsonlite)
})

VISITS <- c("T0", "T3", "T6", "T9")
read_long <- function(nm) {
  d <- read.csv(sprintf("tests/reference/data/longitudinal_%s.csv", nm), stringsAsFactors = FALSE)
  d$visit <- factor(d$visit, levels = VISITS)
  d$arm <- factor(d$arm)
  d$vnum <- as.integer(d$visit)
  d <- d[order(d$id, d$vnum), ]
  rownames(d) <- NULL
  d
}
DATA <- list(balanced = read_long("balanced"), unbalanced = read_long("unbalanced"))

CTRL <- glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500)
POLISH <- glsControl(tolerance = 1e-10, msTol = 1e-14, maxIter = 500, msMaxIter = 500,
                     opt = "optim", natural = FALSE)

fit_gls <- function(structure, reml, d) {
  cor <- switch(structure, UN = corSymm(form = ~ vnum | id), AR1 = corAR1(0.5, form = ~ vnum | id))
  w <- if (structure == "UN") varIdent(form = ~ 1 | visit) else NULL
  meth <- if (reml) "REML" else "ML"
  # without weights the call must not name them (emmeans' recover_data reads call$weights)
  run <- function(cor, w, control) {
    if (is.null(w)) {
      gls(y ~ visit * arm, data = d, correlation = cor, method = meth, control = control)
    } else {
      gls(y ~ visit * arm, data = d, correlation = cor, weights = w, method = meth,
          control = control)
    }
  }
  first <- run(cor, w, CTRL)
  # nlminb stops a little short of the optimum; optim's BFGS from there reaches it
  fit <- run(first$modelStruct$corStruct, first$modelStruct$varStruct, POLISH)
  stopifnot(is.matrix(fit$apVar), logLik(fit) >= logLik(first) - 1e-9)
  fit
}

# the implied covariance of a subject observed at every visit, in visit order
full_cov <- function(fit, d) {
  subj <- names(which(table(d$id) == length(VISITS)))[1]
  V <- unclass(getVarCov(fit, individual = subj))
  matrix(V, nrow(V))
}

summ <- function(s) lapply(as.list(s), function(v) if (is.factor(v)) as.character(v) else v)

# emmeans' Satterthwaite df take A = nlme's apVar, a Hessian by fdHess (finite differences with
# relative step eps^(1/3), ~1e-3 relative error in the df); `df_accurate` is the same formula
# (2 est^2 / g'Ag with emmeans' own G) with A from numDeriv's Richardson-extrapolated Hessian of
# nlme's own log-likelihood function at the same parameters
accurate_A <- function(fit, d) {
  st <- fit$modelStruct
  attr(st, "fixedSigma") <- FALSE
  X <- model.matrix(y ~ visit * arm, d)
  dims <- list(N = fit$dims$N, p = fit$dims$p, REML = as.integer(fit$dims$REML))
  conLin <- list(Xy = cbind(X, d$y), dims = dims, logLik = 0, sigma = 0, fixedSigma = FALSE)
  N <- fit$dims$N - fit$dims$REML * fit$dims$p
  pars <- attr(fit$apVar, "Pars")
  f <- function(p) nlme:::glsApVar.fullGlsLogLik(p, st, conLin, dims, N)
  # (nlme's logLik adds constants to this function; at the optimum its gradient vanishes)
  stopifnot(max(abs(numDeriv::grad(f, pars))) < 1e-3)
  A <- solve(-numDeriv::hessian(f, pars))
  stopifnot(max(abs(A - fit$apVar)) < 0.05 * max(abs(fit$apVar)))
  A
}

accurate_df <- function(grid, fit, d, A) {
  V <- vcov(fit)
  G <- emmeans:::gls_grad(fit, fit$call, d, V)
  apply(grid@linfct, 1, function(k) {
    g <- vapply(G, function(M) sum(k * (M %*% k)), 0)
    2 * drop(t(k) %*% V %*% k)^2 / drop(t(g) %*% A %*% g)
  })
}

tables <- function(fit, d) {
  A <- accurate_A(fit, d)
  out <- list()
  for (mode in c("auto", "df.error", "asymptotic")) {
    e <- emmeans(fit, ~ visit | arm, data = d, mode = mode)
    tab <- list(emmeans = summ(as.data.frame(summary(e))))
    if (mode == "auto") tab$emmeans$df_accurate <- accurate_df(e, fit, d, A)
    for (method in c("pairwise", "trt.vs.ctrl")) {
      ct <- contrast(e, method = method)
      s <- as.data.frame(summary(ct, infer = c(TRUE, TRUE)))
      tab[[method]] <- c(summ(s), list(adjust = paste(attr(summary(ct, infer = c(TRUE, TRUE)),
                                                               "mesg"), collapse = " | ")))
      if (mode == "auto") tab[[method]]$df_accurate <- accurate_df(ct, fit, d, A)
    }
    out[[mode]] <- tab
  }
  out
}

cases <- list()
for (structure in c("UN", "AR1")) {
  for (data in names(DATA)) {
    for (reml in c(TRUE, FALSE)) {
      if (!reml && !(structure == "AR1" && data == "balanced")) next
      d <- DATA[[data]]
      fit <- fit_gls(structure, reml, d)
      id <- sprintf("%s_%s_%s", structure, if (reml) "reml" else "ml", data)
      cat(id, "logLik", format(as.numeric(logLik(fit)), digits = 12), "\n")
      cases[[id]] <- list(
        id = id, data = paste0("longitudinal_", data), structure = structure,
        formula = "y ~ visit * arm", reml = reml,
        logLik = as.numeric(logLik(fit)), sigma = fit$sigma,
        coef = unname(coef(fit)), terms = names(coef(fit)),
        vcov = unname(vcov(fit)), cov = full_cov(fit, d),
        ncov = length(unlist(fit$modelStruct)),
        tables = tables(fit, d)
      )
    }
  }
}

# BLUPs: random intercept + AR1 residuals (nlme's lme), conditional SDs from nlme's matrices
ranef_case <- function(data, reml) {
  d <- DATA[[data]]
  fit <- lme(y ~ visit * arm, random = ~ 1 | id, correlation = corAR1(0.5, form = ~ vnum | id),
             data = d, method = if (reml) "REML" else "ML",
             control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10,
                                  msTol = 1e-14, niterEM = 100, opt = "optim"))
  re <- ranef(fit)
  G <- matrix(unclass(getVarCov(fit)), 1)
  ids <- rownames(re)
  se <- vapply(ids, function(i) {
    V <- unclass(getVarCov(fit, individual = i, type = "marginal"))[[1]]
    V <- matrix(V, nrow(V))
    Z <- matrix(1, nrow(V), 1)
    sqrt(drop(G - G %*% t(Z) %*% solve(V, Z) %*% G))
  }, numeric(1))
  list(id = sprintf("AR1_ri_%s_%s", if (reml) "reml" else "ml", data),
       data = paste0("longitudinal_", data), formula = "y ~ visit * arm + (1 | id)",
       structure = "AR1", reml = reml, logLik = as.numeric(logLik(fit)),
       level = ids, estimate = unname(re[, 1]), std_error = unname(se))
}
blups <- list()
for (data in names(DATA)) {
  for (reml in c(TRUE, FALSE)) {
    r <- ranef_case(data, reml)
    blups[[r$id]] <- r
  }
}

meta <- list(
  generated_by = "tests/reference/make_emmeans_gls.R",
  R = R.version.string,
  packages = list(nlme = as.character(packageVersion("nlme")),
                  emmeans = as.character(packageVersion("emmeans"))),
  cases = unname(cases),
  ranef = unname(blups)
)
writeLines(toJSON(meta, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"),
           "tests/reference/fixtures/emmeans_gls.json")
