# gen_criteo.awk: small Criteo-layout click data with a planted model, for
# tests (the project's tests make their own data). Usage:
#   awk -v rows=N -v seed=S -f gen_criteo.awk > out.tsv
# Label ~ Bernoulli(sigmoid(score)); the score depends on I1, C1, C2 and the
# C3 x C4 pair, so a model that learns anything beats the base rate.
function sigmoid(z) { return 1 / (1 + exp(-z)) }
BEGIN {
    srand(seed)
    for (r = 0; r < rows; r++) {
        i1 = int(rand() * 20)
        c1 = int(rand() * rand() * 50)
        c2 = int(rand() * 8)
        c3 = int(rand() * 4); c4 = int(rand() * 4)
        z = -1.2 + (i1 > 10 ? 1.0 : -0.5) + (c1 % 5 == 0 ? 1.2 : -0.3) \
            + (c2 < 3 ? 0.8 : -0.4) + (c3 == c4 ? 1.0 : -0.3)
        y = rand() < sigmoid(z) ? 1 : 0
        line = y "\t" (rand() < 0.1 ? "" : i1)
        for (j = 2; j <= 13; j++) line = line "\t" int(rand() * 100)
        line = line sprintf("\t%08x\t%08x\t%08x\t%08x", c1 * 7919, c2 * 104729, c3, c4)
        for (j = 5; j <= 26; j++) line = line sprintf("\t%x", int(rand() * 30))
        print line
    }
}
