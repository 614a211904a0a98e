; Rebuild a tower upside down on the right region and put the fourth block in the bowl.
(define (problem pick-place-rebuild)
  (:domain pick-place)
  (:objects b1 b2 b3 b4 - block green - bowl left right - surface)
  (:init (handempty)
         (on b1 table) (on b2 b1) (on b3 b2) (clear b3)
         (on b4 left) (clear b4))
  (:goal (and (on b3 right) (on b2 b3) (on b1 b2) (in b4 green))))
